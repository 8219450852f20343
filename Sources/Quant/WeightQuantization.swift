// WeightQuantization: symmetric int8 weights with one scale per output channel (zero point 0).

/// Per-output-channel symmetric quantization of a weight matrix `[n, k]` (row c = output channel c):
/// `s[c] = max_k |w[c][k]| / 127` (1 for an all-zero row), `q = clamp(roundHalfEven(w / s[c]), −127, 127)`.
/// Every dequantized value `q·s[c]` is within `s[c]/2` of `w`.
public struct PerChannelWeights: Sendable, Equatable {
  public var n: Int
  public var k: Int
  public var values: [Int8]    // n × k, row-major
  public var scales: [Float]   // n

  public init(n: Int, k: Int, weight: (Int, Int) -> Float) {
    precondition(n > 0 && k > 0, "PerChannelWeights: empty \(n)x\(k)")
    self.n = n
    self.k = k
    var values = [Int8](repeating: 0, count: n * k)
    var scales = [Float](repeating: 1, count: n)
    for c in 0..<n {
      var m: Float = 0
      for j in 0..<k { m = Swift.max(m, abs(weight(c, j))) }
      let s: Float = m > 0 ? m / 127 : 1
      scales[c] = s
      for j in 0..<k {
        let q = (weight(c, j) / s).rounded(.toNearestOrEven)
        values[c * k + j] = Int8(Swift.min(Swift.max(q, -127), 127))
      }
    }
    self.values = values
    self.scales = scales
  }

  public func dequantized(_ c: Int, _ j: Int) -> Float { Float(values[c * k + j]) * scales[c] }
}

/// The int32 bias of a quantized layer: `round(b[c] / (s_in · s_w[c]))`, saturated to Int32.
public func quantizeBias(_ b: Float, inputScale: Float, weightScale: Float) -> Int32 {
  let v = (Double(b) / (Double(inputScale) * Double(weightScale))).rounded(.toNearestOrEven)
  return Int32(Swift.min(Swift.max(v, Double(Int32.min)), Double(Int32.max)))
}
