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

extension QGEMMWeights {
  /// The dequantized weights `s_w[c]·W[c][kk]` of channels `cs`, transposed: at `out[kk·ldo + c]` for every kk < k.
  /// Panel by panel and k by k, so each row of `out` gets the panel's channels as one contiguous run (a
  /// packed group holds 16 channels × 4 k): per channel with stride `ldo`, the stores missed the cache
  /// (MaskFormer's fold, 2.4 MB: 1.6 ms of a 1-thread forward, as long as the GEMM after it).
  public func dequantizeTransposed(channels cs: Range<Int>, into out: UnsafeMutablePointer<Float>, ldo: Int) {
    let L = QGEMMPanelLayout.self
    var c0 = cs.lowerBound
    while c0 < cs.upperBound {
      let p = c0 / L.channels, c1 = Swift.min(cs.upperBound, (p + 1) * L.channels), j0 = c0 - p * L.channels, count = c1 - c0
      let base = UnsafeRawPointer(panel(p)) + L.weightOffset(channel: j0, k: 0)
      withUnsafeTemporaryAllocation(of: Float.self, capacity: L.channels) { sc in
        for j in 0..<count { sc[j] = scale(c0 + j) }
        for kk in 0..<k {
          let src = base + (kk / L.kGroup) * L.groupBytes + kk % L.kGroup, dst = out + kk * ldo + c0
          for j in 0..<count { dst[j] = sc[j] * Float(src.load(fromByteOffset: j * L.kGroup, as: Int8.self)) }
        }
      }
      c0 = c1
    }
  }

  /// Channel c's bias in units of the input scale: `s_w[c]·b32[c]` (the layer adds `s_a` times it).
  public func biasInInputUnits(_ c: Int) -> Double { Double(scale(c)) * Double(bias(c)) }
}

extension QGEMMPacking {
  /// Quantizes n rows of k float weights (`weights`: n × k, row-major) as `PerChannelWeights` does (symmetric
  /// per row, max |w| to 127, round to nearest even) and packs them at `out` with the int32 biases
  /// `quantizeBias(bias[c], inputScale:, weightScale: s_w[c])`: `QGEMMPanelLayout.byteCount(n:k:)` bytes,
  /// padding zeroed. (Data, not closures: nothing is allocated per call, issue 19.)
  public static func quantize(n: Int, k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, inputScale: Float,
                              into out: UnsafeMutableRawPointer, threads: Int) {
    let L = QGEMMPanelLayout.self, panelBytes = L.panelBytes(k: k)
    out.initializeMemory(as: UInt8.self, repeating: 0, count: L.panels(n: n) * panelBytes)
    parallelFor(n, threads: threads, sharing: (weights, bias, inputScale, out, k, panelBytes)) { st, c in
      let (weights, bias, inputScale, out, k, panelBytes) = st
      let x = weights + c * k, panel = out + (c / L.channels) * panelBytes, j = c % L.channels
      var m: Float = 0
      for kk in 0..<k { m = Swift.max(m, abs(x[kk])) }
      let s: Float = m > 0 ? m / 127 : 1
      var sum: Int32 = 0
      for kk in 0..<k {
        let q = Int8(Swift.min(Swift.max((x[kk] / s).rounded(.toNearestOrEven), -127), 127))
        sum += Int32(q)
        panel.storeBytes(of: q, toByteOffset: L.weightOffset(channel: j, k: kk), as: Int8.self)
      }
      panel.storeBytes(of: quantizeBias(bias[c], inputScale: inputScale, weightScale: s), toByteOffset: L.biasOffset + 4 * j, as: Int32.self)
      panel.storeBytes(of: sum, toByteOffset: L.columnSumOffset + 4 * j, as: Int32.self)
      panel.storeBytes(of: s, toByteOffset: L.scaleOffset + 4 * j, as: Float.self)
    }
  }
}
