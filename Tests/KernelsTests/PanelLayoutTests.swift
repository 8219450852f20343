// QGEMMPanelLayout: the sizes and offsets the C microkernels assume (64-byte groups of 4 k x 16
// channels, a 192-byte header, panels a multiple of 64 bytes), and the packer and the reader agreeing
// on where every value lies.
import Kernels
import Quant
import Testing
import _TestSupport

@Suite struct PanelLayoutTests {
  @Test func sizesAreWhatTheMicrokernelsRead() {
    let L = QGEMMPanelLayout.self
    #expect(L.groupBytes == 64, "es_qs8_gemm_* step through weights as w + q * 64")
    #expect(L.weightsOffset == 3 * 64 && L.columnSumOffset == 64 && L.scaleOffset == 128 && L.biasOffset == 0)
    for k in [1, 3, 4, 5, 96, 97, 384, 2304] {
      #expect(L.panelBytes(k: k) % 64 == 0 && L.panelBytes(k: k) == 192 + 16 * ((k + 3) / 4 * 4), "k = \(k)")
    }
    #expect(L.byteCount(n: 17, k: 5) == 2 * (192 + 16 * 8))
    #expect(L.byteCount(n: Int.max / 2, k: Int.max / 2) == nil && L.byteCount(n: -1, k: 4) == nil)
  }

  /// Packed bytes read back through the layout give the quantized weights, scales, sums and biases.
  @Test func packerAndReaderAgree() throws {
    var rng = SplitMix64(seed: 3)
    let (n, k) = (37, 23)
    let w = rng.floats(n * k)
    let (bytes, scales) = QGEMMPacking.pack(n: n, k: k, weight: { w[$0 * k + $1] }, bias: { Float($0) * 0.1 }, inputScale: 0.05)
    let q = PerChannelWeights(n: n, k: k) { w[$0 * k + $1] }
    #expect(bytes.count == QGEMMPanelLayout.byteCount(n: n, k: k) && scales == q.scales)
    let L = QGEMMPanelLayout.self
    bytes.withUnsafeBytes { raw in
      for c in 0..<n {
        let panel = raw.baseAddress! + (c / 16) * L.panelBytes(k: k), j = c % 16
        for kk in 0..<k {
          #expect(panel.load(fromByteOffset: L.weightOffset(channel: j, k: kk), as: Int8.self) == q.values[c * k + kk])
        }
        #expect(panel.loadUnaligned(fromByteOffset: L.scaleOffset + 4 * j, as: Float.self) == q.scales[c])
        #expect(panel.loadUnaligned(fromByteOffset: L.columnSumOffset + 4 * j, as: Int32.self) == q.values[(c * k)..<(c * k + k)].reduce(0) { $0 + Int32($1) })
      }
    }
  }

  /// `dequantizeTransposed` (MaskFormer's fold) gives s_w[c]·W[c][kk] at out[kk·ldo + c], for ranges that
  /// start and end inside a panel, and leaves the rest of out alone.
  @Test func dequantizeTransposedReadsEveryWeight() throws {
    var rng = SplitMix64(seed: 5)
    let (n, k, ldo) = (37, 23, 41)
    let w = rng.floats(n * k)
    let (bytes, scales) = QGEMMPacking.pack(n: n, k: k, weight: { w[$0 * k + $1] }, bias: { _ in 0 }, inputScale: 0.05)
    let q = PerChannelWeights(n: n, k: k) { w[$0 * k + $1] }
    for cs in [0..<37, 3..<29, 16..<32, 35..<37] {
      var out = [Float](repeating: .nan, count: k * ldo)
      bytes.withUnsafeBytes { raw in
        out.withUnsafeMutableBufferPointer { o in
          QGEMMWeights(base: raw.baseAddress!, n: n, k: k).dequantizeTransposed(channels: cs, into: o.baseAddress!, ldo: ldo)
        }
      }
      for kk in 0..<k {
        for c in 0..<ldo {
          let got = out[kk * ldo + c]
          if cs.contains(c) {
            #expect(got == scales[c] * Float(q.values[c * k + kk]), "channels \(cs): [\(kk)][\(c)]")
          } else {
            #expect(got.isNaN, "channels \(cs): [\(kk)][\(c)] written")
          }
        }
      }
    }
  }
}
