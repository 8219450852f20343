// Int8GEMM: y = W·(x − z_x) + b over int8 activations and packed per-channel int8 weights
// (`qgemm_i8x4_n16`, docs/FORMAT.md), with int32 accumulation and a dequantizing or requantizing
// epilogue. A is read through row pointers (a conv is one K segment per tap: implicit GEMM); weights
// are read where they lie in the model file.
import Quant
import _CKernels

/// The int8 GEMM implementations. `.reference` defines the result; every tier equals it exactly.
public enum QS8GEMMKernel: String, Sendable, CaseIterable {
  case reference, portable, avx2, avx512vnni, neon, neondot, neoni8mm

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .reference, .portable: true
    case .avx2: f.hasAVX2FMA
    case .avx512vnni: f.hasAVX512VNNI
    case .neon: f.hasNEON
    case .neondot: f.hasNEONDotProd
    case .neoni8mm: f.hasNEONI8MM
    }
  }

  /// The tier's microkernel sums `a·w` (signed activations) rather than `(a + 128)·w` (the unsigned operand
  /// of AVX-512 VNNI's vpdpbusd), so its correction has no 128·Σw term: every tier but VNNI (and the
  /// reference, which is exact by itself).
  var signedA: Bool { self != .avx512vnni && self != .reference }
  static let mr = 8
}

/// A view of packed weights: N output channels, K reduction, panels of 16 channels.
public struct QGEMMWeights {
  public let base: UnsafeRawPointer
  public let n: Int
  public let k: Int

  public init(base: UnsafeRawPointer, n: Int, k: Int) {
    self.base = base
    self.n = n
    self.k = k
  }

  public var kp: Int { QGEMMPanelLayout.paddedK(k) }
  public var panels: Int { QGEMMPanelLayout.panels(n: n) }
  public var panelBytes: Int { QGEMMPanelLayout.panelBytes(k: k) }
  func panel(_ p: Int) -> UnsafeRawPointer { base + p * panelBytes }
  /// int32 bias, int32 Σw, float scale of channel c.
  func bias(_ c: Int) -> Int32 { panel(c / 16).loadUnaligned(fromByteOffset: QGEMMPanelLayout.biasOffset + 4 * (c % 16), as: Int32.self) }
  func columnSum(_ c: Int) -> Int32 { panel(c / 16).loadUnaligned(fromByteOffset: QGEMMPanelLayout.columnSumOffset + 4 * (c % 16), as: Int32.self) }
  func scale(_ c: Int) -> Float { panel(c / 16).loadUnaligned(fromByteOffset: QGEMMPanelLayout.scaleOffset + 4 * (c % 16), as: Float.self) }
  func weight(_ c: Int, _ kk: Int) -> Int8 {
    panel(c / 16).load(fromByteOffset: QGEMMPanelLayout.weightOffset(channel: c % 16, k: kk), as: Int8.self)
  }
  /// The weights of the group holding reduction index `kOffset` (a multiple of 4) in panel `p`.
  func group(panel p: Int, k kOffset: Int) -> UnsafePointer<Int8> {
    (panel(p) + QGEMMPanelLayout.weightOffset(channel: 0, k: kOffset)).assumingMemoryBound(to: Int8.self)
  }
}

/// Where the results go and how they are converted.
public enum Int8GEMMOutput {
  /// The exact integer result `Σ_k (a − z_a)·w + bias`.
  case int32(UnsafeMutablePointer<Int32>, ldc: Int)
  /// `act(acc · s_a·s_w[c]) + residual`, in float.
  case float(UnsafeMutablePointer<Float>, ldc: Int, inputScale: Float, activation: Activation,
             residual: UnsafePointer<Float>?, residualStride: Int)
  /// `quantize(act(acc · s_a·s_w[c]))` with the output's parameters: int8 handed to the next layer.
  case int8(UnsafeMutablePointer<Int8>, ldc: Int, inputScale: Float, output: QuantParams, activation: Activation)
  /// `acc · s_a·s_w[c]` written transposed, element (i, c) at `out[c·ldc + i]` (MaskFormer's folded mask
  /// projection: pixels are the rows, queries the channels, and the logits are wanted query by query).
  case floatTransposed(UnsafeMutablePointer<Float>, ldc: Int, inputScale: Float)
}

public struct Int8GEMMProblem {
  public var m: Int
  public var weights: QGEMMWeights
  /// K split into segments (one per conv tap); each but the last a multiple of 4. Sums to weights.k.
  public var segments: [Int]
  /// Row i of segment s: `segments[s]` int8 values, readable up to the next multiple of 4.
  public var aRow: GEMMRows<Int8>
  public var aZeroPoint: Int32
  public var output: Int8GEMMOutput

  public init(m: Int, weights: QGEMMWeights, segments: [Int]? = nil, aRow: @escaping (Int, Int) -> UnsafePointer<Int8>,
              aZeroPoint: Int32, output: Int8GEMMOutput) {
    self.init(m: m, weights: weights, segments: segments ?? [weights.k], rows: .indexed(aRow), aZeroPoint: aZeroPoint, output: output)
  }

  /// A problem whose row i is `a + i·aStride` (one segment, or all segments read from the row's start):
  /// no closure, so no allocation per call (issue 19).
  public init(m: Int, weights: QGEMMWeights, segments: [Int], a: UnsafePointer<Int8>, aStride: Int, aZeroPoint: Int32,
              output: Int8GEMMOutput) {
    self.init(m: m, weights: weights, segments: segments, rows: .strided(a, aStride), aZeroPoint: aZeroPoint, output: output)
  }

  /// A convolution's problem (`segments`: one per tap): no closure, so no allocation per call.
  public init(m: Int, weights: QGEMMWeights, segments: [Int], conv: ConvRows<Int8>, aZeroPoint: Int32, output: Int8GEMMOutput) {
    self.init(m: m, weights: weights, segments: segments, rows: .conv(conv), aZeroPoint: aZeroPoint, output: output)
  }

  init(m: Int, weights: QGEMMWeights, segments: [Int], rows: GEMMRows<Int8>, aZeroPoint: Int32, output: Int8GEMMOutput) {
    self.m = m
    self.weights = weights
    self.segments = segments
    self.aRow = rows
    self.aZeroPoint = aZeroPoint
    self.output = output
  }
}

public enum Int8GEMM {
  public static func run(_ p: Int8GEMMProblem, kernel: QS8GEMMKernel, threads: Int) {
    precondition(p.segments.reduce(0, +) == p.weights.k, "Int8GEMM: segments \(p.segments) do not sum to K = \(p.weights.k)")
    precondition(p.segments.dropLast().allSatisfy { $0 % 4 == 0 }, "Int8GEMM: inner segments must be multiples of 4: \(p.segments)")
    guard p.m > 0 else { return }
    withCorrections(p, signedA: kernel.signedA, exact: kernel != .reference) { corr, scales in
      if kernel == .avx512vnni || kernel == .avx2 {
        runPacked(p, wide: kernel == .avx2, corr: corr, scales: scales, threads: threads)
      } else if kernel == .portable {
        runPortable(p, corr: corr, scales: scales, threads: threads)
      } else {
        runRows(p, kernel: kernel, corr: corr, scales: scales, threads: threads)
      }
    }
  }

  /// Per channel, once per call: the correction acc − (128 + z_a)·Σw + bias (the +128 of the unsigned
  /// operand, absent for signed-A tiers, and the zero point; all 0 when `exact` is false: the reference
  /// tile is exact already) and the dequantization scale, in this thread's scratch (`ThreadScratch`: they
  /// were one or two mallocs per GEMM call, issue 19).
  static func withCorrections(_ p: Int8GEMMProblem, signedA: Bool, exact: Bool = true,
                              _ body: (UnsafePointer<Int32>, UnsafePointer<Float>) -> Void) {
    let w = p.weights, width = w.panels * 16, offset: Int32 = signedA ? 0 : 128
    ThreadScratch.with(.gemmTables, bytes: width * 8) { tables in
      let corr = tables.bindMemory(to: Int32.self, capacity: width)
      corr.initialize(repeating: 0, count: width)
      let scales = (tables + width * 4).bindMemory(to: Float.self, capacity: width)
      scales.initialize(repeating: 0, count: width)
      if exact {
        for c in 0..<w.n { corr[c] = w.bias(c) &- (offset &+ p.aZeroPoint) &* w.columnSum(c) }
      }
      switch p.output {
      case .float(_, _, let sIn, _, _, _), .int8(_, _, let sIn, _, _), .floatTransposed(_, _, let sIn): for c in 0..<w.n { scales[c] = sIn * w.scale(c) }
      case .int32: break
      }
      body(corr, scales)
    }
  }

  /// Tasks: blocks of `blockRows` rows times groups of panels (enough tasks for every thread).
  static func tasks(_ p: Int8GEMMProblem, blockRows: Int, threads: Int) -> (blocks: Int, groups: Int, perGroup: Int) {
    let panels = p.weights.panels, blocks = (p.m + blockRows - 1) / blockRows
    let groups = Swift.min(panels, Swift.max(1, (2 * threads + blocks - 1) / blocks))
    return (blocks, groups, (panels + groups - 1) / groups)
  }

  /// Rows per packed tile, tiles per task, and groups of 4 k per K block of the AVX-512 VNNI path.
  static let packedTileRows = 12, packedTiles = 8, packedKBlock = 128

  /// AVX-512 VNNI and AVX2: a task packs its rows once (up to 8 tiles of 12, every segment: unsigned bytes
  /// for VNNI, int16 for AVX2 when `wide`), then per panel pair runs K in blocks of `packedKBlock` groups
  /// over all its tiles, so that a block of weights (16 KB per pair) stays in L1 while every tile uses it
  /// (a whole-K pass per tile re-read a 3x3 conv's 73 KB of pair weights from L2 for each tile: 57 % of the
  /// VNNI peak on kernel-bench's FPN conv).
  private static func runPacked(_ p: Int8GEMMProblem, wide: Bool, corr: UnsafePointer<Int32>, scales: UnsafePointer<Float>,
                                threads: Int) {
    let nseg = p.segments.count, tr = packedTileRows
    let kq = p.segments.reduce(0) { $0 + ($1 + 3) / 4 }
    let (blocks, groups, perGroup) = tasks(p, blockRows: tr * packedTiles, threads: threads)
    let elementBytes = wide ? 2 : 1, packBytes = tr * packedTiles * 4 * kq * elementBytes
    // Per worker: its packed rows, then its int32 tiles (12 KiB: a temporary allocation that size was a
    // posix_memalign per task, 30 % of the mallocs of a frame; issue 19).
    let tileBytes = packedTiles * tr * 32 * 4, perWorker = packBytes + tileBytes
    let workers = parallelWorkers(blocks * groups, threads: threads)
    ThreadScratch.with(.gemmPacking, bytes: workers * perWorker) { scratch in
      // Groups of 4 k per segment, on the stack (a mapped array was a malloc per call).
      withUnsafeTemporaryAllocation(of: Int.self, capacity: nseg) { kqBuf in
        for (s, len) in p.segments.enumerated() { kqBuf[s] = (len + 3) / 4 }
        parallelForWorkers(blocks * groups, threads: threads,
                           PackedGEMMTask(p: p, wide: wide, corr: corr, scales: scales, scratch: scratch, perWorker: perWorker,
                                          packBytes: packBytes, segKQ: UnsafePointer(kqBuf.baseAddress!), kq: kq, groups: groups,
                                          perGroup: perGroup))
      }
    }
  }

  /// One task of `runPacked`: rows `m0 ..< m1` (packed tile by tile into the worker's scratch) times the
  /// panels of group `task % groups`, with the epilogue per tile and panel pair. A value, not a closure: no
  /// allocation per GEMM (issue 19).
  private struct PackedGEMMTask: ParallelTask {
    let p: Int8GEMMProblem, wide: Bool, corr: UnsafePointer<Int32>, scales: UnsafePointer<Float>
    let scratch: UnsafeMutableRawPointer, perWorker: Int, packBytes: Int, segKQ: UnsafePointer<Int>, kq: Int
    let groups: Int, perGroup: Int

    func run(_ task: Int, worker: Int) {
      let w = p.weights, nseg = p.segments.count, tr = Int8GEMM.packedTileRows, elementBytes = wide ? 2 : 1
      let m0 = (task / groups) * tr * Int8GEMM.packedTiles, m1 = Swift.min(p.m, m0 + tr * Int8GEMM.packedTiles)
      let p0 = (task % groups) * perGroup, p1 = Swift.min(w.panels, p0 + perGroup)
      guard p0 < p1 else { return }
      let packedA = scratch + worker * perWorker
      let tiles = (m1 - m0 + tr - 1) / tr
      let c = (packedA + packBytes).bindMemory(to: Int32.self, capacity: Int8GEMM.packedTiles * tr * 32)
      withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: tr * nseg) { rowBuf in
        let rowPointers = rowBuf.baseAddress!
        for tile in 0..<tiles {
          let t = m0 + tile * tr, rowCount = Swift.min(tr, m1 - t)
          for s in 0..<nseg {
            for r in 0..<tr { rowPointers[s * tr + r] = p.aRow(t + Swift.min(r, rowCount - 1), s) }
          }
          let tileA = packedA + tile * tr * 4 * kq * elementBytes
          UnsafeRawPointer(rowPointers).withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: tr * nseg) {
            if wide {
              es_qs8_pack_a12_s16(nseg, segKQ, $0, kq, tileA.assumingMemoryBound(to: Int16.self))
            } else {
              es_qs8_pack_a12(nseg, segKQ, $0, kq, tileA.assumingMemoryBound(to: UInt8.self))
            }
          }
        }
        let cInts = UnsafeMutableRawPointer(c).assumingMemoryBound(to: CInt.self)
        var panel = p0
        while panel < p1 {
          let pair = panel + 1 < p1
          let w0 = UnsafeRawPointer(w.group(panel: panel, k: 0)).assumingMemoryBound(to: CChar.self)
          let w1 = UnsafeRawPointer(w.group(panel: pair ? panel + 1 : panel, k: 0)).assumingMemoryBound(to: CChar.self)
          var kb = 0
          while kb < kq {
            let n = Swift.min(Int8GEMM.packedKBlock, kq - kb), accumulate: CInt = kb > 0 ? 1 : 0
            for tile in 0..<tiles {
              let rowCount = Swift.min(tr, m1 - m0 - tile * tr)
              let ap = packedA + (tile * tr * 4 * kq + tr * 4 * kb) * elementBytes, ct = cInts + tile * tr * 32
              if wide {
                let a16 = ap.assumingMemoryBound(to: Int16.self)
                es_qs8_gemm_12x16p__avx2(rowCount, n, a16, w0 + 64 * kb, ct, accumulate)
                if pair { es_qs8_gemm_12x16p__avx2(rowCount, n, a16, w1 + 64 * kb, ct + 16, accumulate) }
              } else if pair {
                let a8 = ap.assumingMemoryBound(to: UInt8.self)
                es_qs8_gemm_12x32p__avx512vnni(rowCount, n, a8, w0 + 64 * kb, w1 + 64 * kb, ct, accumulate)
              } else {
                es_qs8_gemm_12x16p__avx512vnni(rowCount, n, ap.assumingMemoryBound(to: UInt8.self), w0 + 64 * kb, ct, accumulate)
              }
            }
            kb += n
          }
          let cols = Swift.min(pair ? 32 : 16, w.n - panel * 16)
          for tile in 0..<tiles {
            let t = m0 + tile * tr
            Int8GEMM.epilogue(p, tile: c + tile * tr * 32, ldt: 32, rows: t..<Swift.min(m1, t + tr), c0: panel * 16, cols: cols,
                     corr: corr, scales: scales, kernel: wide ? .avx2 : .avx512vnni)
          }
          panel += pair ? 2 : 1
        }
      }
    }
  }

    /// The other tiers: 8-row tiles read in place through the row pointers, one panel at a time.
    private static func runRows(_ p: Int8GEMMProblem, kernel: QS8GEMMKernel, corr: UnsafePointer<Int32>, scales: UnsafePointer<Float>,
                                threads: Int) {
      let w = p.weights, mr = QS8GEMMKernel.mr, nseg = p.segments.count
      let (blocks, groups, perGroup) = tasks(p, blockRows: mr * 8, threads: threads)
      parallelFor(blocks * groups, threads: threads) { task in
        let m0 = (task / groups) * mr * 8, m1 = Swift.min(p.m, m0 + mr * 8)
        let p0 = (task % groups) * perGroup, p1 = Swift.min(w.panels, p0 + perGroup)
        guard p0 < p1 else { return }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: mr * 16) { tileBuf in
          withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: mr * nseg) { rowBuf in
            let tile = tileBuf.baseAddress!, rowPointers = rowBuf.baseAddress!
            var t = m0
            while t < m1 {
              let rowCount = Swift.min(mr, m1 - t)
              if kernel != .reference {
                for s in 0..<nseg {
                  for r in 0..<mr { rowPointers[s * mr + r] = p.aRow(t + Swift.min(r, rowCount - 1), s) }
                }
              }
              for panel in p0..<p1 {
                if kernel == .reference {
                  referenceTile(p, rows: t..<(t + rowCount), panel: panel, into: tile)
                } else {
                  var kOffset = 0
                  for (s, len) in p.segments.enumerated() {
                    microkernel(kernel, rowCount, (len + 3) / 4, rowPointers + s * mr, w.group(panel: panel, k: kOffset), tile, 16, kOffset > 0)
                    kOffset += len
                  }
                }
                epilogue(p, tile: tile, ldt: 16, rows: t..<(t + rowCount), c0: panel * 16, cols: Swift.min(16, w.n - panel * 16),
                         corr: corr, scales: scales, kernel: kernel)
              }
              t += mr
            }
          }
        }
    }
  }

  @inline(__always)
  static func microkernel(_ kernel: QS8GEMMKernel, _ mr: Int, _ kq: Int, _ a: UnsafePointer<UnsafePointer<Int8>>,
                          _ w: UnsafePointer<Int8>, _ c: UnsafeMutablePointer<Int32>, _ ldc: Int, _ accumulate: Bool) {
    switch kernel {
    case .avx512vnni, .avx2:
      preconditionFailure("Int8GEMM: AVX-512 VNNI and AVX2 run the packed-A kernels")
    case .neon, .neondot, .neoni8mm:
      a.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: mr) { a in
        w.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w in
          c.withMemoryRebound(to: CInt.self, capacity: mr * ldc) { c in
            switch kernel {
            case .neon: es_qs8_gemm_8x16__neon(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
            case .neondot: es_qs8_gemm_8x16__neondot(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
            default: es_qs8_gemm_8x16__neoni8mm(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
            }
          }
        }
      }
    case .portable, .reference:
      preconditionFailure("Int8GEMM: the portable tier runs runPortable, the reference referenceTile")
    }
  }

  /// Converts a finished int32 tile (rows × `cols` channels from c0, row stride ldt) to the requested
  /// output, after adding the per-channel correction.
  static func epilogue(_ p: Int8GEMMProblem, tile: UnsafeMutablePointer<Int32>, ldt: Int, rows: Range<Int>, c0: Int, cols: Int,
                       corr: UnsafePointer<Int32>, scales: UnsafePointer<Float>, kernel: QS8GEMMKernel) {
    // The SIMD epilogue (same bits as the scalar one): AVX-512 with the VNNI tier, AVX2 with the AVX2 tier,
    // NEON with the arm64 tiers.
    let avx: CInt = kernel == .avx512vnni || kernel == .neon || kernel == .neondot || kernel == .neoni8mm ? 1 : kernel == .avx2 ? 2 : 0
    let acc = UnsafeRawPointer(tile).assumingMemoryBound(to: CInt.self)
    let cr = UnsafeRawPointer(corr + c0).assumingMemoryBound(to: CInt.self)
    switch p.output {
    case .int32(let out, let ldc):
      for (r, i) in rows.enumerated() {
        for j in 0..<cols { out[i * ldc + c0 + j] = tile[r * ldt + j] &+ corr[c0 + j] }
      }
    case .float(let out, let ldc, _, let act, let residual, let rs):
      es_qs8_epilogue_f32_tile(avx, rows.count, cols, acc, ldt, cr, scales + c0, act.code,
                               residual.map { $0 + rows.lowerBound * rs + c0 }, rs, out + rows.lowerBound * ldc + c0, ldc)
    case .floatTransposed(let out, let ldc, _):
      // The identity epilogue's operations (int32 sum, conversion, one product), the same on every tier.
      for j in 0..<cols {
        let cj = corr[c0 + j], sj = scales[c0 + j], column = out + (c0 + j) * ldc
        for (r, i) in rows.enumerated() { column[i] = Float(tile[r * ldt + j] &+ cj) * sj }
      }
    case .int8(let out, let ldc, _, let q, let act):
      let o = UnsafeMutableRawPointer(out + rows.lowerBound * ldc + c0).assumingMemoryBound(to: CChar.self)
      es_qs8_epilogue_qs8_tile(avx, rows.count, cols, acc, ldt, cr, scales + c0, act.code, q.scale, q.zeroPoint, o, ldc)
    }
  }
}

extension Activation {
  /// The activation's code in the C epilogues (es_kernels.h).
  var code: CInt { self == .identity ? 0 : self == .relu ? 1 : 2 }
}
