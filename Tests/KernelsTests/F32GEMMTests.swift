// Every f32 GEMM tier against the reference triple loop, over odd shapes, K segments (implicit conv),
// strided B, every epilogue; and the thread count never changes a bit.
import Foundation
import Kernels
import Testing
import _TestSupport

struct GEMMCase: CustomTestStringConvertible, Sendable {
  var m, n: Int
  var ks: [Int]            // K split into segments (several = a conv's taps)
  var stridedB: Bool       // B read with colStride 3 (a conv weight's layout)
  var bias: Bool
  var activation: Activation
  var residual: Bool
  var seed: UInt64
  var testDescription: String {
    "\(m)x\(n)x\(ks) \(stridedB ? "strided " : "")\(bias ? "+bias " : "")\(activation.rawValue)\(residual ? " +residual" : "") seed \(seed)"
  }

  static var edgeCases: [GEMMCase] {
    var out: [GEMMCase] = []
    var rng = SplitMix64(seed: 7)
    let ms = [1, 2, 3, 5, 7, 8, 9, 15, 17, 33, 130]
    let ns = [1, 3, 15, 16, 17, 31, 32, 33, 65]
    let ks: [[Int]] = [[1], [3], [16], [17], [255], [256], [257], [300], [5, 5, 5], [17, 17, 17, 17, 17, 17, 17, 17, 17]]
    let acts: [Activation] = [.identity, .relu, .gelu]
    for (i, m) in ms.enumerated() {
      for (j, n) in ns.enumerated() {
        let k = ks[(i * 3 + j) % ks.count]
        out.append(GEMMCase(m: m, n: n, ks: k, stridedB: (i + j) % 2 == 0, bias: (i + 2 * j) % 3 != 0,
                            activation: acts[(i + j) % 3], residual: (i * j) % 2 == 1, seed: rng.next() % 1000))
      }
    }
    return out
  }
}

/// A GEMM problem with owned inputs; `run` returns C.
struct GEMMProblemData {
  var c: GEMMCase
  var a: [[Float]]         // per segment, m × k_s
  var b: [[Float]]         // per segment, n × k_s × (3 if strided)
  var bias: [Float]
  var residual: [Float]

  init(_ c: GEMMCase) {
    self.c = c
    var rng = SplitMix64(seed: c.seed)
    a = c.ks.map { rng.floats(c.m * $0) }
    b = c.ks.map { rng.floats(c.n * $0 * (c.stridedB ? 3 : 1)) }
    bias = rng.floats(c.n)
    residual = rng.floats(c.m * c.n)
  }

  /// `scratchFill`: pack B into a caller's buffer of exactly `scratchBytes`, filled with this first.
  func run(_ kernel: F32GEMMKernel, threads: Int = 2, scratchFill: UInt8? = nil) -> [Float] {
    var out = [Float](repeating: .nan, count: c.m * c.n)
    let ap = a.map { arr in arr.withUnsafeBufferPointer { UnsafeMutablePointer(mutating: $0.baseAddress!) } }
    // The arrays outlive `out`'s computation below (self is alive), so their storage stays put.
    withExtendedLifetime((a, b, bias, residual)) {
      let stride = c.stridedB ? 3 : 1
      let segments = zip(c.ks, b).map { k, bs in
        bs.withUnsafeBufferPointer { F32MatrixView(base: $0.baseAddress!, rows: c.n, cols: k, rowStride: k * stride, colStride: stride) }
      }
      bias.withUnsafeBufferPointer { biasB in residual.withUnsafeBufferPointer { resB in
        out.withUnsafeMutableBufferPointer { ob in
          let ks = c.ks
          let p = F32GEMMProblem(
            m: c.m, n: c.n, segments: segments, aRow: { i, s in UnsafePointer(ap[s] + i * ks[s]) },
            bias: c.bias ? biasB.baseAddress! : nil, activation: c.activation,
            residual: c.residual ? resB.baseAddress! : nil, residualStride: c.n, c: ob.baseAddress!, ldc: c.n)
          if let scratchFill {
            let bytes = F32GEMM.scratchBytes(p, kernel: kernel, threads: threads)
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer { scratch.deallocate() }
            scratch.initializeMemory(as: UInt8.self, repeating: scratchFill, count: bytes)
            F32GEMM.run(p, kernel: kernel, threads: threads, scratch: scratch)
          } else {
            F32GEMM.run(p, kernel: kernel, threads: threads)
          }
        }
      }}
    }
    return out
  }

  /// Bound on |tier − reference| per output: K·2⁻²³·Σ_k|a·b| (rounding of each product and of the
  /// partial sums in a different order), times 1.2 for GELU's slope, plus the residual's ulp.
  func bounds() -> [Float] {
    let stride = c.stridedB ? 3 : 1
    let kTotal = c.ks.reduce(0, +)
    var out = [Float](repeating: 0, count: c.m * c.n)
    for i in 0..<c.m {
      for j in 0..<c.n {
        var s: Float = 0
        for (seg, k) in c.ks.enumerated() {
          for kk in 0..<k { s += abs(a[seg][i * k + kk] * b[seg][j * k * stride + kk * stride]) }
        }
        out[i * c.n + j] = Tolerance.f32GEMM(k: kTotal + 2) * (s + 1) * 1.2 + 1e-6
      }
    }
    return out
  }
}

@Suite struct F32GEMMAgreement {
  static var tiers: [F32GEMMKernel] {
    let f = CPUFeatures.detect()
    return [.portable, .avx2, .avx512, .neon].filter { $0.isSupported(on: f) }
  }

  /// Every tier gives the reference's bits (FMA per k ascending, K in chunks of F32GEMM.kChunk), and the
  /// reference is within the float rounding bound of the exact products' sum.
  @Test(arguments: tiers, GEMMCase.edgeCases)
  func tierMatchesReference(_ kernel: F32GEMMKernel, _ c: GEMMCase) {
    let p = GEMMProblemData(c)
    let ref = p.run(.reference), got = p.run(kernel)
    let bad = (0..<ref.count).first { got[$0].bitPattern != ref[$0].bitPattern }
    #expect(bad == nil, "\(kernel) \(c): C[\(bad.map { "\($0 / c.n),\($0 % c.n)" } ?? "")] = \(bad.map { got[$0] } ?? 0) vs reference \(bad.map { ref[$0] } ?? 0)")
  }

  @Test(arguments: tiers)
  func threadCountNeverChangesABit(_ kernel: F32GEMMKernel) {
    let p = GEMMProblemData(GEMMCase(m: 301, n: 70, ks: [40, 40, 40], stridedB: true, bias: true, activation: .gelu,
                                     residual: true, seed: 99))
    let one = p.run(kernel, threads: 1)
    #expect(p.run(kernel, threads: 2) == one)
    #expect(p.run(kernel, threads: 3) == one)
    #expect(p.run(kernel, threads: 8) == one)
  }

  /// The packed B in a caller's scratch (the arena's, in the model), whatever it held before: the
  /// same bits as in a buffer of run's own.
  @Test(arguments: tiers)
  func callerScratchGivesTheSameBits(_ kernel: F32GEMMKernel) {
    let p = GEMMProblemData(GEMMCase(m: 37, n: 53, ks: [40, 24], stridedB: true, bias: true, activation: .relu,
                                     residual: true, seed: 7))
    let own = p.run(kernel)
    #expect(p.run(kernel, scratchFill: 0xFF) == own, "NaN-filled scratch")
    #expect(p.run(kernel, scratchFill: 0) == own)
  }

  @Test func bestKernelIsSupported() {
    let f = CPUFeatures.detect()
    #expect(KernelTable.best(for: f).f32GEMM.isSupported(on: f))
    #expect(KernelTable.named("reference", features: f)?.f32GEMM == .reference)
    #expect(KernelTable.named("nonsense", features: f) == nil)
    #expect(KernelTable.named("avx512", features: CPUFeatures()) == nil, "a CPU without AVX-512 must not get it")
  }
}
