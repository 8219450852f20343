// Every int8 GEMM tier equals the reference exactly (int32, int8 and float outputs) over odd shapes,
// K segments (implicit conv), zero points and ReLU; the thread count never changes a bit.
import Kernels
import _CKernels
import MaskFormerInt8
import Quant
import Testing
import _TestSupport

struct QGEMMCase: CustomTestStringConvertible, Sendable {
  var m, n: Int
  var segments: [Int]
  var zeroPoint: Int32
  var seed: UInt64
  var testDescription: String { "\(m)x\(n)x\(segments) z=\(zeroPoint) seed \(seed)" }

  static var edgeCases: [QGEMMCase] {
    var out: [QGEMMCase] = []
    var rng = SplitMix64(seed: 21)
    let ms = [1, 2, 3, 5, 7, 8, 9, 11, 12, 13, 15, 17, 24, 25, 33, 130]
    let ns = [1, 3, 15, 16, 17, 31, 32, 33, 65]
    // K past 512 (600; 256 + 256 + 100): more than one K block of the AVX-512 VNNI path, accumulated.
    let ks: [[Int]] = [[1], [3], [4], [5], [8], [12], [17], [64], [100], [256], [260], [4, 4, 4], [8, 8, 8, 8, 8, 8, 8, 8, 8], [16, 16, 3],
                       [600], [256, 256, 100]]
    for (i, m) in ms.enumerated() {
      for (j, n) in ns.enumerated() {
        out.append(QGEMMCase(m: m, n: n, segments: ks[(i * 5 + j) % ks.count], zeroPoint: Int32(Int(rng.next() % 256) - 128),
                             seed: rng.next() % 10_000))
      }
    }
    return out
  }
}

/// Owned inputs of one int8 GEMM problem.
struct QGEMMData {
  let c: QGEMMCase
  let packed: [UInt8]
  let rows: [[[Int8]]]   // [segment][row] padded to a multiple of 4 with random bytes
  let residual: [Float]

  init(_ c: QGEMMCase) {
    self.c = c
    var rng = SplitMix64(seed: c.seed)
    let k = c.segments.reduce(0, +)
    let w = rng.floats(c.n * k), b = rng.floats(c.n)
    packed = QGEMMPacking.pack(n: c.n, k: k, weight: { w[$0 * k + $1] }, bias: { b[$0] * 50 }, inputScale: 0.02).bytes
    rows = c.segments.map { len in
      (0..<c.m).map { _ in (0..<((len + 3) / 4 * 4)).map { _ in Int8(truncatingIfNeeded: rng.next()) } }
    }
    residual = rng.floats(c.m * c.n)
  }

  func run<T>(_ kernel: QS8GEMMKernel, threads: Int = 2, fill: T, output: (UnsafeMutablePointer<T>) -> Int8GEMMOutput) -> [T] {
    var out = [T](repeating: fill, count: c.m * c.n)
    packed.withUnsafeBytes { wb in
      let ptrs = rows.map { seg in seg.map { row in row.withUnsafeBufferPointer { $0.baseAddress! } } }
      withExtendedLifetime(rows) {
        out.withUnsafeMutableBufferPointer { ob in
          let p = Int8GEMMProblem(m: c.m, weights: QGEMMWeights(base: wb.baseAddress!, n: c.n, k: c.segments.reduce(0, +)),
                                  segments: c.segments, aRow: { i, s in ptrs[s][i] }, aZeroPoint: c.zeroPoint,
                                  output: output(ob.baseAddress!))
          Int8GEMM.run(p, kernel: kernel, threads: threads)
        }
      }
    }
    return out
  }

  func int32(_ k: QS8GEMMKernel, threads: Int = 2) -> [Int32] { run(k, threads: threads, fill: Int32.min) { .int32($0, ldc: c.n) } }
  func int8(_ k: QS8GEMMKernel, relu: Bool) -> [Int8] {
    run(k, fill: Int8(0)) { .int8($0, ldc: c.n, inputScale: 0.02, output: QuantParams(scale: 0.05, zeroPoint: -7), activation: relu ? .relu : .gelu) }
  }
  func float(_ k: QS8GEMMKernel) -> [Float] {
    residual.withUnsafeBufferPointer { r in
      run(k, fill: Float.nan) { .float($0, ldc: c.n, inputScale: 0.02, activation: .gelu, residual: r.baseAddress!, residualStride: c.n) }
    }
  }
}

@Suite struct Int8GEMMAgreement {
  static var tiers: [QS8GEMMKernel] { [.portable, .avx2, .avx512vnni, .neon, .neondot, .neoni8mm].filter { $0.isSupported(on: .detect()) } }

  @Test(arguments: tiers, QGEMMCase.edgeCases)
  func tierEqualsReferenceExactly(_ kernel: QS8GEMMKernel, _ c: QGEMMCase) {
    let d = QGEMMData(c)
    let ref = d.int32(.reference), got = d.int32(kernel)
    let bad = (0..<ref.count).first { ref[$0] != got[$0] }
    #expect(bad == nil, "\(kernel) \(c): C[\(bad.map { "\($0 / c.n),\($0 % c.n)" } ?? "")] = \(bad.map { got[$0] } ?? 0) vs \(bad.map { ref[$0] } ?? 0)")
    #expect(d.int8(kernel, relu: false) == d.int8(.reference, relu: false), "int8 output")
    #expect(d.int8(kernel, relu: true) == d.int8(.reference, relu: true), "int8 output with ReLU")
    // The int8 epilogue is QuantParams.quantize of the float epilogue (same scale product, same activation).
    let f = d.run(.reference, fill: Float.nan) { .float($0, ldc: c.n, inputScale: 0.02, activation: .gelu, residual: nil, residualStride: 0) }
    #expect(d.int8(.reference, relu: false) == f.map { QuantParams(scale: 0.05, zeroPoint: -7).quantize($0) }, "int8 = quantize(float)")
    #expect(d.float(kernel) == d.float(.reference), "float output")
    // Transposed float output (MaskFormer's folded mask projection): the identity float epilogue's values,
    // element (i, j) at j·m + i.
    let plain = d.run(.reference, fill: Float.nan) { .float($0, ldc: c.n, inputScale: 0.02, activation: .identity, residual: nil, residualStride: 0) }
    let transposed = d.run(kernel, fill: Float.nan) { .floatTransposed($0, ldc: c.m, inputScale: 0.02) }
    #expect((0..<c.m * c.n).allSatisfy { transposed[($0 % c.n) * c.m + $0 / c.n].bitPattern == plain[$0].bitPattern }, "transposed float output")
  }

  /// `QGEMMPacking.quantize` (float rows quantized and packed in place, at run time) writes the bytes the
  /// converter's `PerChannelWeights` + `pack` write for the same weights and biases.
  @Test func runtimeQuantizeEqualsTheConvertersPacking() {
    var rng = SplitMix64(seed: 17)
    for (n, k) in [(37, 50), (16, 4), (100, 2304), (3, 1)] {
      var w = rng.floats(n * k)
      w[0] = 0
      if n > 2 { for j in 0..<k { w[2 * k + j] = 0 } }   // an all-zero row: scale 1
      let b = rng.floats(n)
      let want = QGEMMPacking.pack(n: n, k: k, weight: { w[$0 * k + $1] }, bias: { b[$0] }, inputScale: 0.02).bytes
      var got = [UInt8](repeating: 0xAB, count: QGEMMPanelLayout.byteCount(n: n, k: k)!)
      w.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in
        got.withUnsafeMutableBytes { out in
          QGEMMPacking.quantize(n: n, k: k, weights: wb.baseAddress!, bias: bb.baseAddress!, inputScale: 0.02, into: out.baseAddress!, threads: 2)
        }
      }}
      #expect(got == want, "\(n)x\(k)")
    }
  }

  @Test func referenceMatchesTheDefinition() {
    // Independent of the packing: Σ (a − z)·q + bias from the quantized weights directly.
    let c = QGEMMCase(m: 3, n: 5, segments: [7], zeroPoint: 11, seed: 3)
    var rng = SplitMix64(seed: 99)
    let w = rng.floats(35)
    let q = PerChannelWeights(n: 5, k: 7) { w[$0 * 7 + $1] }
    let packed = QGEMMPacking.pack(q, bias: { Int32($0 * 1000 - 2000) })
    let a: [[Int8]] = (0..<3).map { _ in (0..<8).map { _ in Int8(truncatingIfNeeded: rng.next()) } }
    var out = [Int32](repeating: 0, count: 15)
    packed.withUnsafeBytes { wb in
      let ptrs = a.map { row in row.withUnsafeBufferPointer { $0.baseAddress! } }
      withExtendedLifetime(a) {
        out.withUnsafeMutableBufferPointer { ob in
          Int8GEMM.run(Int8GEMMProblem(m: 3, weights: QGEMMWeights(base: wb.baseAddress!, n: 5, k: 7), aRow: { i, _ in ptrs[i] },
                                       aZeroPoint: c.zeroPoint, output: .int32(ob.baseAddress!, ldc: 5)), kernel: .reference, threads: 1)
        }
      }
    }
    for i in 0..<3 {
      for ch in 0..<5 {
        var acc = Int32(ch * 1000 - 2000)
        for k in 0..<7 { acc += (Int32(a[i][k]) - 11) * Int32(q.values[ch * 7 + k]) }
        #expect(out[i * 5 + ch] == acc)
      }
    }
  }

  @Test(arguments: tiers)
  func threadCountNeverChangesABit(_ kernel: QS8GEMMKernel) {
    let d = QGEMMData(QGEMMCase(m: 301, n: 70, segments: [64, 64, 64], zeroPoint: -3, seed: 5))
    let one = d.int32(kernel, threads: 1)
    for t in [2, 3, 8] { #expect(d.int32(kernel, threads: t) == one, "\(t) threads") }
  }
}

@Suite struct EpilogueTests {
  /// The C epilogues (AVX-512 and scalar) equal the Swift definition bit for bit, for every activation.
  @Test func cEpiloguesEqualTheSwiftDefinition() {
    var rng = SplitMix64(seed: 8)
    for act in [Activation.identity, .relu, .gelu] {
      for n in [1, 7, 16, 31, 32, 100] {
        let acc = (0..<n).map { _ in Int32(Int(rng.next() % 2_000_001) - 1_000_000) }
        let corr = (0..<n).map { _ in Int32(Int(rng.next() % 20_001) - 10_000) }
        let scale = rng.floats(n).map { abs($0) * 1e-5 + 1e-7 }
        let residual = rng.floats(n)
        var want = [Float](repeating: 0, count: n)
        for j in 0..<n { want[j] = residual[j] + act.apply(Float(acc[j] + corr[j]) * scale[j]) }
        let code: CInt = act == .identity ? 0 : act == .relu ? 1 : 2
        var scalar = [Float](repeating: .nan, count: n), vector = scalar
        acc.withUnsafeBufferPointer { a in corr.withUnsafeBufferPointer { c in scale.withUnsafeBufferPointer { s in residual.withUnsafeBufferPointer { r in
          let ap = UnsafeRawPointer(a.baseAddress!).assumingMemoryBound(to: CInt.self), cp = UnsafeRawPointer(c.baseAddress!).assumingMemoryBound(to: CInt.self)
          scalar.withUnsafeMutableBufferPointer { es_qs8_epilogue_f32__scalar(n, ap, cp, s.baseAddress!, code, r.baseAddress!, $0.baseAddress!) }
          if CPUFeatures.detect().hasAVX512F {
            vector.withUnsafeMutableBufferPointer { es_qs8_epilogue_f32__avx512(n, ap, cp, s.baseAddress!, code, r.baseAddress!, $0.baseAddress!) }
          } else {
            vector = scalar
          }
        }}}}
        #expect(scalar == want, "\(act) n=\(n): scalar C differs from the Swift definition")
        // int8 hand-over: QuantParams.quantize of the same float (no residual).
        for qp in [QuantParams(scale: 0.013, zeroPoint: -9), QuantParams(scale: 0.5, zeroPoint: 127)] {
          var qs = [Int8](repeating: 0, count: n), qv = qs
          acc.withUnsafeBufferPointer { a in corr.withUnsafeBufferPointer { c in scale.withUnsafeBufferPointer { s in
            let ap = UnsafeRawPointer(a.baseAddress!).assumingMemoryBound(to: CInt.self), cp = UnsafeRawPointer(c.baseAddress!).assumingMemoryBound(to: CInt.self)
            qs.withUnsafeMutableBufferPointer { b in
              es_qs8_epilogue_qs8__scalar(n, ap, cp, s.baseAddress!, code, qp.scale, qp.zeroPoint, UnsafeMutableRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
            qv.withUnsafeMutableBufferPointer { b in
              let o = UnsafeMutableRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self)
              if CPUFeatures.detect().hasAVX512F { es_qs8_epilogue_qs8__avx512(n, ap, cp, s.baseAddress!, code, qp.scale, qp.zeroPoint, o) }
              else { es_qs8_epilogue_qs8__scalar(n, ap, cp, s.baseAddress!, code, qp.scale, qp.zeroPoint, o) }
            }
          }}}
          let qWant = (0..<n).map { qp.quantize(act.apply(Float(acc[$0] + corr[$0]) * scale[$0])) }
          #expect(qs == qWant && qv == qWant, "\(act) n=\(n) \(qp): int8 epilogue differs from quantize(definition)")
        }
        #expect(vector == want, "\(act) n=\(n): AVX-512 differs from the Swift definition")
      }
    }
  }
}
