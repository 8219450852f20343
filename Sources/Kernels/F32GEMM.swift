// F32GEMM: C = act(A·Bᵀ + bias) + residual in float32, the float reference path and baseline.
// A is read through row pointers (so a 3×3 conv is an implicit GEMM: one K segment per tap, never an
// im2col of the map); B (weights) is read in place through strides and packed per call into NR-wide
// panels, so weights mapped from a checkpoint are never copied at load.

/// A read-only view of an n × k matrix: element (j, kk) is `base[j * rowStride + kk * colStride]`.
/// A Linear weight `[out, in]` is `rowStride = in, colStride = 1`; tap t of a conv weight
/// `[out, in, kh, kw]` is `base + t, rowStride = in·kh·kw, colStride = kh·kw`.
public struct F32MatrixView {
  public var base: UnsafePointer<Float>
  public var rows: Int
  public var cols: Int
  public var rowStride: Int
  public var colStride: Int

  public init(base: UnsafePointer<Float>, rows: Int, cols: Int, rowStride: Int, colStride: Int) {
    self.base = base
    self.rows = rows
    self.cols = cols
    self.rowStride = rowStride
    self.colStride = colStride
  }

  @inlinable public subscript(row: Int, col: Int) -> Float {
    base[row * rowStride + col * colStride]
  }
}

/// Elementwise activation applied in a GEMM epilogue or on its own.
public enum Activation: String, Sendable, Equatable {
  case identity, relu, gelu

  /// GELU is the erf form `0.5·x·(1 + erf(x/√2))` (torch's default), never the tanh one; erf is
  /// `Activation.erf`, a rational approximation within 5e-7 of the true erf.
  @inlinable public func apply(_ x: Float) -> Float {
    switch self {
    case .identity: x
    case .relu: x > 0 ? x : 0
    case .gelu: x * 0.5 * (1 + Activation.erf(x * 0.70710678118654752440))
    }
  }

  /// Applies the activation to `count` floats in place (a loop the compiler vectorizes).
  @inlinable public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
    switch self {
    case .identity: break
    case .relu: for i in 0..<count { x[i] = Swift.max(x[i], 0) }
    case .gelu: for i in 0..<count { x[i] = x[i] * 0.5 * (1 + Activation.erf(x[i] * 0.70710678118654752440)) }
    }
  }

  /// erf(x) as p(x)/q(x), odd degree-13 over even degree-8 polynomials on x clamped to [−4, 4] (the
  /// coefficients of Eigen's `generic_fast_erf_float`). Branch-free so that loops over it vectorize;
  /// max abs error 4.5e-7 against the true erf (glibc's erff: ~6e-8), which a test pins.
  @inlinable @inline(__always) public static func erf(_ v: Float) -> Float {
    let x = Swift.min(Swift.max(v, -4), 4), x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q
  }
}

/// One f32 GEMM: `C[i][j] = act(Σ_s Σ_k A_s[i][k]·B_s[j][k] + bias[j]) + residual[i][j]`, i < m, j < n.
///
/// K is split into segments (one for a Linear, one per tap for a conv); segment s of row i of A is
/// `aRow(i, s)`, `segments[s].cols` contiguous floats; B's segment s is `segments[s]` (n × k_s).
public struct F32GEMMProblem {
  public var m: Int
  public var n: Int
  public var segments: [F32MatrixView]
  public var aRow: (Int, Int) -> UnsafePointer<Float>
  public var bias: UnsafePointer<Float>?
  public var activation: Activation
  /// Added after the activation: `residual + i*residualStride` is row i.
  public var residual: UnsafePointer<Float>?
  public var residualStride: Int
  public var c: UnsafeMutablePointer<Float>
  public var ldc: Int

  public init(m: Int, n: Int, segments: [F32MatrixView], aRow: @escaping (Int, Int) -> UnsafePointer<Float>,
              bias: UnsafePointer<Float>?, activation: Activation = .identity,
              residual: UnsafePointer<Float>? = nil, residualStride: Int = 0,
              c: UnsafeMutablePointer<Float>, ldc: Int) {
    self.m = m
    self.n = n
    self.segments = segments
    self.aRow = aRow
    self.bias = bias
    self.activation = activation
    self.residual = residual
    self.residualStride = residualStride
    self.c = c
    self.ldc = ldc
  }
}

public enum F32GEMM {
  /// K is processed in chunks of at most this many: a chunk of A rows and one packed B panel stay in cache.
  static let kChunk = 256

  /// Bytes of the packed B that `run` builds for `p` (0 for the reference kernel), 64-byte aligned.
  public static func scratchBytes(_ p: F32GEMMProblem, kernel: F32GEMMKernel) -> Int {
    guard kernel != .reference && p.m > 0 && p.n > 0 else { return 0 }
    let nr = kernel.tile.nr
    return (p.n + nr - 1) / nr * p.segments.reduce(0) { $0 + $1.cols } * nr * 4
  }

  /// Runs `p` with `kernel` on up to `threads` threads. Rows are split in fixed blocks, so the result is
  /// identical for every thread count. B is packed into `scratch` (at least `scratchBytes`, 64-byte
  /// aligned) when given, else into a buffer of its own.
  public static func run(_ p: F32GEMMProblem, kernel: F32GEMMKernel, threads: Int, scratch: UnsafeMutableRawPointer? = nil) {
    for s in p.segments {
      precondition(s.rows == p.n && s.cols > 0, "F32GEMM: segment \(s.rows)x\(s.cols) does not match n=\(p.n)")
    }
    precondition(p.ldc >= p.n, "F32GEMM: ldc \(p.ldc) < n \(p.n)")
    guard p.m > 0 && p.n > 0 else { return }
    if kernel == .reference {
      runReference(p)
      return
    }
    let (mr, nr) = kernel.tile
    let kTotal = p.segments.reduce(0) { $0 + $1.cols }
    let panels = (p.n + nr - 1) / nr
    precondition(scratch.map { Int(bitPattern: $0) % 64 == 0 } ?? true, "F32GEMM: scratch must be 64-byte aligned (aligned loads of packed B)")
    let owned = scratch == nil ? UnsafeMutableRawPointer.allocate(byteCount: panels * kTotal * nr * 4, alignment: 64) : nil
    defer { owned?.deallocate() }
    let packed = scratch ?? owned!
    let b = packed.bindMemory(to: Float.self, capacity: panels * kTotal * nr)
    let segments = p.segments
    parallelFor(panels, threads: threads) { panel in
      pack(segments, n: p.n, nr: nr, kTotal: kTotal, panel: panel, into: b)
    }

    // Tasks are (row block, panel group): row blocks first; when there are too few of them to feed
    // the threads (small M: the DETR decoder, the mask einsum), the panels are split as well.
    let blockRows = mr * 16
    let blocks = (p.m + blockRows - 1) / blockRows
    let groups = Swift.min(panels, Swift.max(1, (2 * threads + blocks - 1) / blocks))
    let panelsPerGroup = (panels + groups - 1) / groups
    parallelFor(blocks * groups, threads: threads) { task in
      let blk = task / groups, group = task % groups
      let m0 = blk * blockRows, m1 = Swift.min(p.m, m0 + blockRows)
      let p0 = group * panelsPerGroup, p1 = Swift.min(panels, p0 + panelsPerGroup)
      guard p0 < p1 else { return }
      withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: mr) { rows in
        var kOffset = 0
        for (s, seg) in p.segments.enumerated() {
          var k0 = 0
          while k0 < seg.cols {
            let kc = Swift.min(kChunk, seg.cols - k0)
            let accumulate = kOffset + k0 > 0
            var t = m0
            while t < m1 {
              let rowCount = Swift.min(mr, m1 - t)
              for r in 0..<rowCount { rows[r] = p.aRow(t + r, s) + k0 }
              for panel in p0..<p1 {
                let cols = Swift.min(nr, p.n - panel * nr)
                let bp = b + (panel * kTotal + kOffset + k0) * nr
                let cp = p.c + t * p.ldc + panel * nr
                microkernel(kernel, rowCount, cols, kc, rows.baseAddress!, bp, cp, p.ldc, accumulate)
              }
              t += mr
            }
            k0 += kc
          }
          kOffset += seg.cols
        }
      }
      epilogue(p, rows: m0..<m1, cols: (p0 * nr)..<Swift.min(p.n, p1 * nr))
    }
  }

  /// Packs one panel of B: `b[panel][k][j]` = column `panel·nr + j` over the concatenated segments,
  /// zero past n.
  static func pack(_ segments: [F32MatrixView], n: Int, nr: Int, kTotal: Int, panel: Int,
                   into b: UnsafeMutablePointer<Float>) {
    var kOffset = 0
    for seg in segments {
      let dst = b + (panel * kTotal + kOffset) * nr
      for j in 0..<nr {
        let col = panel * nr + j
        if col < n {
          let src = seg.base + col * seg.rowStride
          for k in 0..<seg.cols { dst[k * nr + j] = src[k * seg.colStride] }
        } else {
          for k in 0..<seg.cols { dst[k * nr + j] = 0 }
        }
      }
      kOffset += seg.cols
    }
  }

  @inline(__always)
  static func microkernel(_ kernel: F32GEMMKernel, _ mr: Int, _ nr: Int, _ kc: Int,
                          _ a: UnsafePointer<UnsafePointer<Float>>, _ b: UnsafePointer<Float>,
                          _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
    switch kernel {
    case .avx512:
      a.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: mr) { a in
        es_f32_gemm_8x32__avx512f(mr, nr, kc, a, b, c, ldc, accumulate ? 1 : 0)
      }
    case .avx2:
      a.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: mr) { a in
        es_f32_gemm_6x16__avx2(mr, nr, kc, a, b, c, ldc, accumulate ? 1 : 0)
      }
    case .portable, .reference:
      portableMicrokernel4x16(mr, nr, kc, a, b, c, ldc, accumulate)
    }
  }

  /// bias, activation and residual on a block of C, in that order.
  static func epilogue(_ p: F32GEMMProblem, rows: Range<Int>, cols: Range<Int>) {
    let n = cols.count, j0 = cols.lowerBound
    for i in rows {
      let c = p.c + i * p.ldc + j0
      if let bias = p.bias {
        let b = bias + j0
        for j in 0..<n { c[j] += b[j] }
      }
      p.activation.apply(c, count: n)
      if let res = p.residual {
        let r = res + i * p.residualStride + j0
        for j in 0..<n { c[j] = r[j] + c[j] }
      }
    }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import _CKernels
