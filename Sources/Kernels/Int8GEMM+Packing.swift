// Int8GEMM+Packing: the `qgemm_i8x4_n16` weight layout, written once by the converter and read in
// place by every int8 GEMM tier. Panels of 16 output channels; per panel, in one sequential block:
//   Int32 bias ×16 | Int32 Σ_k q[c][k] ×16 | Float32 s_w[c] ×16 | Int8 q as [Kp/4][16][4]
// (Kp = K rounded up to 4; zeros past K and past N). 192 + 16·Kp bytes per panel, a multiple of 64,
// so 64-byte alignment of the tensor keeps every panel and every 64-byte weight row aligned.
import Quant

public enum QGEMMPacking {
  /// Quantizes (symmetric, per output channel) and packs `weight(c, k)`, c < n, k < k; the bias is
  /// quantized at scale `inputScale · s_w[c]`. Returns the bytes and the weight scales.
  public static func pack(n: Int, k: Int, weight: (Int, Int) -> Float, bias: ((Int) -> Float)?,
                          inputScale: Float) -> (bytes: [UInt8], scales: [Float]) {
    let q = PerChannelWeights(n: n, k: k, weight: weight)
    return (pack(q, bias: { c in bias.map { quantizeBias($0(c), inputScale: inputScale, weightScale: q.scales[c]) } ?? 0 }), q.scales)
  }

  /// Packs already quantized weights with int32 biases.
  public static func pack(_ q: PerChannelWeights, bias: (Int) -> Int32) -> [UInt8] {
    let n = q.n, k = q.k
    let panels = (n + 15) / 16, kp = (k + 3) / 4 * 4
    var out = [UInt8](repeating: 0, count: panels * (192 + 16 * kp))
    func put32(_ v: UInt32, _ at: Int) {
      out[at] = UInt8(v & 0xFF); out[at + 1] = UInt8(v >> 8 & 0xFF); out[at + 2] = UInt8(v >> 16 & 0xFF); out[at + 3] = UInt8(v >> 24)
    }
    for p in 0..<panels {
      let base = p * (192 + 16 * kp)
      for j in 0..<16 {
        let c = p * 16 + j
        guard c < n else { continue }
        var sum: Int32 = 0
        for kk in 0..<k { sum += Int32(q.values[c * k + kk]) }
        put32(UInt32(bitPattern: bias(c)), base + 4 * j)
        put32(UInt32(bitPattern: sum), base + 64 + 4 * j)
        put32(q.scales[c].bitPattern, base + 128 + 4 * j)
        for kk in 0..<k { out[base + 192 + (kk / 4) * 64 + j * 4 + kk % 4] = UInt8(bitPattern: q.values[c * k + kk]) }
      }
    }
    return out
  }
}
