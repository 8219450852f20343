// Int8Winograd (exact integer F(2×2, 3×3)) equals the direct 3×3 conv (Int8GEMM's reference over the nine
// taps) bit for bit, in its portable and AVX2 forms, over odd map sizes, channel counts that are not a
// multiple of 16 or of the 16-output panel, extreme activations and zero points, and int32, float and int8
// outputs; and the thread count never changes a bit.
import Kernels
import Quant
import Testing
import _TestSupport

struct WinogradCase: CustomTestStringConvertible, Sendable {
  var h, w, cin, cout: Int
  var zeroPoint: Int32
  var extreme: Bool
  var seed: UInt64
  var testDescription: String { "\(h)x\(w) \(cin)->\(cout) z=\(zeroPoint)\(extreme ? " extreme" : "") seed \(seed)" }

  static let cases: [WinogradCase] = [
    WinogradCase(h: 1, w: 4, cin: 4, cout: 1, zeroPoint: 0, extreme: false, seed: 1),
    WinogradCase(h: 5, w: 7, cin: 8, cout: 17, zeroPoint: -13, extreme: false, seed: 2),
    WinogradCase(h: 6, w: 9, cin: 20, cout: 16, zeroPoint: 101, extreme: false, seed: 3),
    WinogradCase(h: 9, w: 53, cin: 36, cout: 33, zeroPoint: -128, extreme: false, seed: 4),
    WinogradCase(h: 4, w: 6, cin: 256, cout: 20, zeroPoint: 127, extreme: true, seed: 5),
    WinogradCase(h: 3, w: 5, cin: 320, cout: 16, zeroPoint: -128, extreme: true, seed: 6),
  ]
}

@Suite struct WinogradTests {
  /// Inputs of one conv: a map of int8 pixels (cin each) and the zero-point row, packed weights.
  struct Data {
    let c: WinogradCase
    let map: [Int8]       // h·w pixels, then one pixel of zero points
    let packed: [UInt8]

    init(_ c: WinogradCase) {
      self.c = c
      var rng = SplitMix64(seed: c.seed)
      let k = 9 * c.cin
      // Extreme: weights at ±127 and activations at -128 / 127, the largest transformed values and sums.
      let w = c.extreme ? (0..<(c.cout * k)).map { _ in rng.next() % 2 == 0 ? Float(1) : Float(-1) } : rng.floats(c.cout * k)
      let b = rng.floats(c.cout)
      packed = QGEMMPacking.pack(n: c.cout, k: k, weight: { w[$0 * k + $1] }, bias: { b[$0] * 50 }, inputScale: 0.02).bytes
      var m = (0..<(c.h * c.w * c.cin)).map { _ in
        c.extreme ? (rng.next() % 2 == 0 ? Int8.min : Int8.max) : Int8(truncatingIfNeeded: rng.next())
      }
      m += [Int8](repeating: Int8(clamping: c.zeroPoint), count: c.cin)
      map = m
    }

    /// The direct conv (`winograd` false: Int8GEMM over the taps) or Winograd, with `output` made for the
    /// result buffer.
    func run<T>(winograd: Bool, kernel: QS8GEMMKernel, threads: Int = 2, fill: T, _ output: (UnsafeMutablePointer<T>) -> Int8GEMMOutput) -> [T] {
      let (h, w, cin, cout) = (c.h, c.w, c.cin, c.cout)
      var out = [T](repeating: fill, count: h * w * cout)
      packed.withUnsafeBytes { wb in
        map.withUnsafeBufferPointer { mb in
          out.withUnsafeMutableBufferPointer { ob in
            let ap = mb.baseAddress!, zero = ap + h * w * cin
            let weights = QGEMMWeights(base: wb.baseAddress!, n: cout, k: 9 * cin)
            if winograd {
              let u = Int8WinogradWeights(weights, inChannels: cin)
              Int8Winograd.conv3x3(u, weights: weights, rows: h, width: w, pixel: { y, x in
                y >= 0 && y < h && x >= 0 && x < w ? ap + (y * w + x) * cin : zero
              }, zeroPoint: c.zeroPoint, output: output(ob.baseAddress!), kernel: kernel, threads: threads)
            } else {
              let p = Int8GEMMProblem(m: h * w, weights: weights, segments: [Int](repeating: cin, count: 9), aRow: { i, t in
                let sy = i / w + t / 3 - 1, sx = i % w + t % 3 - 1
                return sy >= 0 && sy < h && sx >= 0 && sx < w ? ap + (sy * w + sx) * cin : zero
              }, aZeroPoint: c.zeroPoint, output: output(ob.baseAddress!))
              Int8GEMM.run(p, kernel: kernel, threads: threads)
            }
          }
        }
      }
      return out
    }
  }

  static var tiers: [QS8GEMMKernel] { [.portable, .avx2].filter { $0.isSupported(on: .detect()) } }

  @Test(arguments: tiers, WinogradCase.cases)
  func equalsTheDirectConvExactly(_ kernel: QS8GEMMKernel, _ c: WinogradCase) {
    let d = Data(c), n = c.cout
    let direct = d.run(winograd: false, kernel: .reference, fill: Int32.min) { .int32($0, ldc: n) }
    let wino = d.run(winograd: true, kernel: kernel, fill: Int32.min) { .int32($0, ldc: n) }
    let bad = (0..<direct.count).first { direct[$0] != wino[$0] }
    #expect(bad == nil, "\(kernel) \(c): pixel \(bad.map { $0 / n } ?? 0) channel \(bad.map { $0 % n } ?? 0): \(bad.map { wino[$0] } ?? 0) vs \(bad.map { direct[$0] } ?? 0)")
    let floatOut: (UnsafeMutablePointer<Float>) -> Int8GEMMOutput = {
      .float($0, ldc: n, inputScale: 0.02, activation: .relu, residual: nil, residualStride: 0)
    }
    #expect(d.run(winograd: true, kernel: kernel, fill: Float.nan, floatOut) == d.run(winograd: false, kernel: kernel, fill: Float.nan, floatOut),
            "float output")
    let int8Out: (UnsafeMutablePointer<Int8>) -> Int8GEMMOutput = {
      .int8($0, ldc: n, inputScale: 0.02, output: QuantParams(scale: 0.05, zeroPoint: -7), activation: .gelu)
    }
    #expect(d.run(winograd: true, kernel: kernel, fill: Int8(0), int8Out) == d.run(winograd: false, kernel: .reference, fill: Int8(0), int8Out),
            "int8 output")
  }

  @Test(arguments: tiers)
  func threadCountNeverChangesABit(_ kernel: QS8GEMMKernel) {
    let d = Data(WinogradCase(h: 13, w: 70, cin: 16, cout: 40, zeroPoint: 9, extreme: false, seed: 7))
    let one = d.run(winograd: true, kernel: kernel, threads: 1, fill: Int32.min) { .int32($0, ldc: 40) }
    for t in [2, 3] { #expect(d.run(winograd: true, kernel: kernel, threads: t, fill: Int32.min) { .int32($0, ldc: 40) } == one, "\(t) threads") }
  }

  /// The portable input transform is Bᵀ d B computed from the matrices (independently of its code).
  @Test func inputTransformIsBtDB() {
    var want = [Int16](repeating: 0, count: 16), got = want
    let pixels: [[Int8]] = (0..<16).map { [Int8(truncatingIfNeeded: $0 * 37 + 5)] }
    pixels.withUnsafeBufferPointer { _ in
      let ptrs = pixels.map { p in p.withUnsafeBufferPointer { $0.baseAddress! } }
      withExtendedLifetime(pixels) {
        ptrs.withUnsafeBufferPointer { pb in
          got.withUnsafeMutableBufferPointer { Int8Winograd.inputTransform(1, pb.baseAddress!, $0.baseAddress!, 1) }
        }
      }
    }
    let bt: [[Int]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    for i in 0..<4 {
      for j in 0..<4 {
        var s = 0
        for a in 0..<4 { for b in 0..<4 { s += bt[i][a] * Int(pixels[a * 4 + b][0]) * bt[j][b] } }
        want[i * 4 + j] = Int16(s)
      }
    }
    #expect(got == want)
  }
}
