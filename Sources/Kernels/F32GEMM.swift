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
/// The K segments of an F32 GEMM's B: one held inline (a Linear: no array to allocate per call) or an array.
public struct F32Segments: RandomAccessCollection {
  private let single: F32MatrixView?
  private let list: [F32MatrixView]

  public init(_ one: F32MatrixView) { (single, list) = (one, []) }
  public init(_ list: [F32MatrixView]) { (single, self.list) = (nil, list) }

  public var startIndex: Int { 0 }
  public var endIndex: Int { single == nil ? list.count : 1 }
  public subscript(i: Int) -> F32MatrixView { single ?? list[i] }
}

/// K is split into segments (one for a Linear, one per tap for a conv); segment s of row i of A is
/// `aRow(i, s)`, `segments[s].cols` contiguous floats; B's segment s is `segments[s]` (n × k_s).
public struct F32GEMMProblem {
  public var m: Int
  public var n: Int
  public var segments: F32Segments
  public var aRow: GEMMRows<Float>
  public var bias: UnsafePointer<Float>?
  public var activation: Activation
  /// Added after the activation: `residual + i*residualStride` is row i.
  public var residual: UnsafePointer<Float>?
  public var residualStride: Int
  public var c: UnsafeMutablePointer<Float>
  public var ldc: Int
  /// C written transposed: element (i, j) at `c[j * ldc + i]` (the mask einsum: rows of A are pixels,
  /// the few columns are queries, and the logits are wanted query by query). No residual.
  public var transposedOutput: Bool

  public init(m: Int, n: Int, segments: [F32MatrixView], aRow: @escaping (Int, Int) -> UnsafePointer<Float>,
              bias: UnsafePointer<Float>?, activation: Activation = .identity,
              residual: UnsafePointer<Float>? = nil, residualStride: Int = 0,
              c: UnsafeMutablePointer<Float>, ldc: Int, transposedOutput: Bool = false) {
    self.init(m: m, n: n, segments: segments, rows: .indexed(aRow), bias: bias, activation: activation, residual: residual,
              residualStride: residualStride, c: c, ldc: ldc, transposedOutput: transposedOutput)
  }

  /// As above with row i of A at `a + i·aStride` for every segment: no closure, so no allocation per call.
  public init(m: Int, n: Int, segments: [F32MatrixView], a: UnsafePointer<Float>, aStride: Int,
              bias: UnsafePointer<Float>?, activation: Activation = .identity,
              residual: UnsafePointer<Float>? = nil, residualStride: Int = 0,
              c: UnsafeMutablePointer<Float>, ldc: Int, transposedOutput: Bool = false) {
    self.init(m: m, n: n, segments: segments, rows: .strided(a, aStride), bias: bias, activation: activation, residual: residual,
              residualStride: residualStride, c: c, ldc: ldc, transposedOutput: transposedOutput)
  }

  /// A convolution's problem (`segments`: one per tap): no closure, so no allocation per call.
  public init(m: Int, n: Int, segments: [F32MatrixView], conv: ConvRows<Float>, bias: UnsafePointer<Float>?, activation: Activation = .identity,
              c: UnsafeMutablePointer<Float>, ldc: Int) {
    self.init(m: m, n: n, segments: segments, rows: .conv(conv), bias: bias, activation: activation, residual: nil, residualStride: 0,
              c: c, ldc: ldc, transposedOutput: false)
  }

  /// As above with one segment (`b`, n × k): no array is made for it, so no allocation per call.
  public init(m: Int, n: Int, b: F32MatrixView, a: UnsafePointer<Float>, aStride: Int, bias: UnsafePointer<Float>?,
              activation: Activation = .identity, c: UnsafeMutablePointer<Float>, ldc: Int, transposedOutput: Bool = false) {
    self.init(m: m, n: n, segments: F32Segments(b), rows: .strided(a, aStride), bias: bias, activation: activation, residual: nil,
              residualStride: 0, c: c, ldc: ldc, transposedOutput: transposedOutput)
  }

  init(m: Int, n: Int, segments: [F32MatrixView], rows: GEMMRows<Float>, bias: UnsafePointer<Float>?, activation: Activation,
       residual: UnsafePointer<Float>?, residualStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int, transposedOutput: Bool) {
    self.init(m: m, n: n, segments: F32Segments(segments), rows: rows, bias: bias, activation: activation, residual: residual,
              residualStride: residualStride, c: c, ldc: ldc, transposedOutput: transposedOutput)
  }

  init(m: Int, n: Int, segments: F32Segments, rows: GEMMRows<Float>, bias: UnsafePointer<Float>?, activation: Activation,
       residual: UnsafePointer<Float>?, residualStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int, transposedOutput: Bool) {
    self.m = m
    self.n = n
    self.segments = segments
    self.aRow = rows
    self.bias = bias
    self.activation = activation
    self.residual = residual
    self.residualStride = residualStride
    self.c = c
    self.ldc = ldc
    self.transposedOutput = transposedOutput
  }
}

public enum F32GEMM {
  /// K is processed in chunks of at most this many: a chunk of A rows and one packed B panel stay in cache.
  static let kChunk = 256

  /// Bytes of scratch that `run` uses for `p` on `threads` threads (0 for the reference kernel): the
  /// packed B, and for a transposed output one block of C per worker; 64-byte aligned.
  public static func scratchBytes(_ p: F32GEMMProblem, kernel: F32GEMMKernel, threads: Int) -> Int {
    guard kernel != .reference && p.m > 0 && p.n > 0 else { return 0 }
    let nr = kernel.tile.nr
    let packed = (p.n + nr - 1) / nr * p.segments.reduce(0) { $0 + $1.cols } * nr * 4
    guard p.transposedOutput else { return packed }
    let t = tasks(p, kernel: kernel, threads: threads)
    return packed + parallelWorkers(t.blocks * t.groups, threads: threads) * blockBytes(p, kernel: kernel, threads: threads)
  }

  /// Tasks are (row block, panel group): row blocks first; when there are too few of them to feed
  /// the threads (small M: the DETR decoder), the panels are split as well.
  static func tasks(_ p: F32GEMMProblem, kernel: F32GEMMKernel, threads: Int) -> (blockRows: Int, blocks: Int, groups: Int, panelsPerGroup: Int) {
    let (mr, nr) = kernel.tile
    let panels = (p.n + nr - 1) / nr, blockRows = mr * 16
    let blocks = (p.m + blockRows - 1) / blockRows
    let groups = Swift.min(panels, Swift.max(1, (2 * threads + blocks - 1) / blocks))
    return (blockRows, blocks, groups, (panels + groups - 1) / groups)
  }

  /// One task's block of C when the output is transposed (64-byte multiple).
  static func blockBytes(_ p: F32GEMMProblem, kernel: F32GEMMKernel, threads: Int) -> Int {
    let t = tasks(p, kernel: kernel, threads: threads)
    return (t.blockRows * t.panelsPerGroup * kernel.tile.nr * 4 + 63) / 64 * 64
  }

  /// Runs `p` with `kernel` on up to `threads` threads. Rows are split in fixed blocks, so the result is
  /// identical for every thread count. B is packed into `scratch` (at least `scratchBytes`, 64-byte
  /// aligned) when given, else into a buffer of its own.
  public static func run(_ p: F32GEMMProblem, kernel: F32GEMMKernel, threads: Int, scratch: UnsafeMutableRawPointer? = nil) {
    for s in p.segments {
      precondition(s.rows == p.n && s.cols > 0, "F32GEMM: segment \(s.rows)x\(s.cols) does not match n=\(p.n)")
    }
    precondition(p.transposedOutput ? p.ldc >= p.m : p.ldc >= p.n, "F32GEMM: ldc \(p.ldc) too small for \(p.m)x\(p.n)")
    precondition(!p.transposedOutput || p.residual == nil, "F32GEMM: a transposed output takes no residual")
    guard p.m > 0 && p.n > 0 else { return }
    if kernel == .reference {
      runReference(p)
      return
    }
    let (mr, nr) = kernel.tile
    let kTotal = p.segments.reduce(0) { $0 + $1.cols }
    let panels = (p.n + nr - 1) / nr
    precondition(scratch.map { Int(bitPattern: $0) % 64 == 0 } ?? true, "F32GEMM: scratch must be 64-byte aligned (aligned loads of packed B)")
    let owned = scratch == nil ? UnsafeMutableRawPointer.allocate(byteCount: scratchBytes(p, kernel: kernel, threads: threads), alignment: 64) : nil
    defer { owned?.deallocate() }
    let packed = scratch ?? owned!
    let b = packed.bindMemory(to: Float.self, capacity: panels * kTotal * nr)
    let blocksArea = packed + panels * kTotal * nr * 4, blockBytes = p.transposedOutput ? blockBytes(p, kernel: kernel, threads: threads) : 0
    let segments = p.segments
    parallelFor(panels, threads: threads, sharing: (segments, p.n, nr, kTotal, b)) { s, panel in
      pack(s.0, n: s.1, nr: s.2, kTotal: s.3, panel: panel, into: s.4)
    }

    let (blockRows, blocks, groups, panelsPerGroup) = tasks(p, kernel: kernel, threads: threads)
    parallelForWorkers(blocks * groups, threads: threads,
                       sharing: (p, kernel, b, blocksArea, blockBytes, blockRows, groups, panelsPerGroup, panels, kTotal, mr, nr)) { st, task, worker in
      let (p, kernel, b, blocksArea, blockBytes, blockRows, groups, panelsPerGroup, panels, kTotal, mr, nr) = st
      let blk = task / groups, group = task % groups
      let m0 = blk * blockRows, m1 = Swift.min(p.m, m0 + blockRows)
      let p0 = group * panelsPerGroup, p1 = Swift.min(panels, p0 + panelsPerGroup)
      guard p0 < p1 else { return }
      // A transposed output is computed into the worker's block (C's element (i, j) at
      // block[(i − m0)·ld + j − p0·nr]), finished there, then written column by column.
      var q = p
      if p.transposedOutput {
        let ld = panelsPerGroup * nr, block = (blocksArea + worker * blockBytes).assumingMemoryBound(to: Float.self)
        q.c = block - m0 * ld - p0 * nr
        q.ldc = ld
      }
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
                let cp = q.c + t * q.ldc + panel * nr
                microkernel(kernel, rowCount, cols, kc, rows.baseAddress!, bp, cp, q.ldc, accumulate)
              }
              t += mr
            }
            k0 += kc
          }
          kOffset += seg.cols
        }
      }
      let cols = (p0 * nr)..<Swift.min(p.n, p1 * nr)
      epilogue(q, rows: m0..<m1, cols: cols)
      if p.transposedOutput {
        for j in cols {
          let src = q.c + j, dst = p.c + j * p.ldc
          for i in m0..<m1 { dst[i] = src[i * q.ldc] }
        }
      }
    }
  }

  /// Packs one panel of B: `b[panel][k][j]` = column `panel·nr + j` over the concatenated segments,
  /// zero past n.
  static func pack(_ segments: F32Segments, n: Int, nr: Int, kTotal: Int, panel: Int,
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
    case .neon:
      a.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: mr) { a in
        es_f32_gemm_6x16__neon(mr, nr, kc, a, b, c, ldc, accumulate ? 1 : 0)
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
