// Int8GEMM+Packing: writes the `qgemm_i8x4_n16` layout (QGEMMPanelLayout) once, in the converter; every
// int8 GEMM tier reads it in place.
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
    let L = QGEMMPanelLayout.self, panels = L.panels(n: n), panelBytes = L.panelBytes(k: k)
    var out = [UInt8](repeating: 0, count: panels * panelBytes)
    func put32(_ v: UInt32, _ at: Int) {
      out[at] = UInt8(v & 0xFF); out[at + 1] = UInt8(v >> 8 & 0xFF); out[at + 2] = UInt8(v >> 16 & 0xFF); out[at + 3] = UInt8(v >> 24)
    }
    for p in 0..<panels {
      let base = p * panelBytes
      for j in 0..<L.channels {
        let c = p * L.channels + j
        guard c < n else { continue }
        var sum: Int32 = 0
        for kk in 0..<k { sum += Int32(q.values[c * k + kk]) }
        put32(UInt32(bitPattern: bias(c)), base + L.biasOffset + 4 * j)
        put32(UInt32(bitPattern: sum), base + L.columnSumOffset + 4 * j)
        put32(q.scales[c].bitPattern, base + L.scaleOffset + 4 * j)
        for kk in 0..<k { out[base + L.weightOffset(channel: j, k: kk)] = UInt8(bitPattern: q.values[c * k + kk]) }
      }
    }
    return out
  }
}
