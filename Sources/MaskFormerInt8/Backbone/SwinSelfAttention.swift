// SwinSelfAttention: windowed multi-head self-attention of one Swin block, with the relative position
// bias and the −100 shift mask. Mirrors MaskFormerSwinSelfAttention and the window handling of
// MaskFormerSwinLayer (transformers, modeling_maskformer_swin.py): the map is padded to a multiple of
// the window (never shrunk), padded tokens are NOT masked, and the shift is kept on small maps.
import Kernels

public struct SwinSelfAttention {
  public let query: Linear
  public let key: Linear
  public let value: Linear
  /// `relative_position_bias_table`: `[(2w−1)², heads]`.
  public let relativePositionBiasTable: WeightTensor
  public let numHeads: Int
  public let windowSize: Int

  public init(query: Linear, key: Linear, value: Linear, relativePositionBiasTable: WeightTensor,
              numHeads: Int, windowSize: Int) {
    self.query = query
    self.key = key
    self.value = value
    self.relativePositionBiasTable = relativePositionBiasTable
    self.numHeads = numHeads
    self.windowSize = windowSize
  }

  /// `bias[h][i][j] = table[(r_i − r_j + w−1)·(2w−1) + (c_i − c_j + w−1)][h]` for window tokens i, j.
  func relativePositionBias() -> [Float] {
    let w = windowSize, n = w * w
    var out = [Float](repeating: 0, count: numHeads * n * n)
    for i in 0..<n {
      for j in 0..<n {
        let idx = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1)
        for h in 0..<numHeads { out[(h * n + i) * n + j] = relativePositionBiasTable[idx * numHeads + h] }
      }
    }
    return out
  }

  /// normed: the LayerNorm output `H × W × C` (unpadded). Returns the attention context (before the
  /// output projection) at each real token, `H·W × C`.
  func callAsFunction(_ normed: FeatureMap, shift: Int, in ctx: InferenceContext) -> [Float] {
    let (h, w, c) = (normed.height, normed.width, normed.channels)
    let ws = windowSize, n = ws * ws, hd = c / numHeads
    let hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws
    let q = ctx.linear(normed.data, rows: h * w, query)
    let k = ctx.linear(normed.data, rows: h * w, key)
    let v = ctx.linear(normed.data, rows: h * w, value)
    // Padded positions are zeros after the LayerNorm, so their projections are the biases.
    let zeros = [Float](repeating: 0, count: c)
    let padQ = query.bias.map { Array(UnsafeBufferPointer(start: $0.pointer, count: c)) } ?? zeros
    let padK = key.bias.map { Array(UnsafeBufferPointer(start: $0.pointer, count: c)) } ?? zeros
    let padV = value.bias.map { Array(UnsafeBufferPointer(start: $0.pointer, count: c)) } ?? zeros
    let bias = relativePositionBias()
    // Shift-mask region of a padded, shifted coordinate: 0 below hp−ws, 1 below hp−shift, else 2.
    func region(_ i: Int, _ size: Int) -> Int { i < size - ws ? 0 : (i < size - shift ? 1 : 2) }
    let scale = 1 / Float(hd).squareRoot()
    var out = [Float](repeating: 0, count: h * w * c)
    let windowsX = wp / ws
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    padQ.withUnsafeBufferPointer { pq in padK.withUnsafeBufferPointer { pk in padV.withUnsafeBufferPointer { pv in
    bias.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { ob in
      let (qp, kp, vp, bp, op) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, bb.baseAddress!, ob.baseAddress!)
      parallelFor((hp / ws) * windowsX, threads: ctx.threads) { win in
        let wy = win / windowsX, wx = win % windowsX
        var src = [Int](repeating: -1, count: n)        // real token index of window slot i, or −1 if padding
        var label = [Int](repeating: 0, count: n)
        var rowsQ = [UnsafePointer<Float>](repeating: pq.baseAddress!, count: n)
        var rowsK = [UnsafePointer<Float>](repeating: pk.baseAddress!, count: n)
        var rowsV = [UnsafePointer<Float>](repeating: pv.baseAddress!, count: n)
        for i in 0..<n {
          let py = wy * ws + i / ws, px = wx * ws + i % ws        // position in the shifted, padded map
          let sy = (py + shift) % hp, sx = (px + shift) % wp      // where it came from before the roll
          if shift > 0 { label[i] = 3 * region(py, hp) + region(px, wp) }
          if sy < h && sx < w {
            let t = sy * w + sx
            src[i] = t
            rowsQ[i] = qp + t * c
            rowsK[i] = kp + t * c
            rowsV[i] = vp + t * c
          }
        }
        var scores = [Float](repeating: 0, count: n * n)
        var ctxRow = [Float](repeating: 0, count: hd)
        for head in 0..<numHeads {
          let off = head * hd
          scores.withUnsafeMutableBufferPointer { sb in
            let s = sb.baseAddress!
            for i in 0..<n where src[i] >= 0 {       // padded queries are cropped away: skip them
              let qi = rowsQ[i] + off
              for j in 0..<n {
                let kj = rowsK[j] + off
                var dot: Float = 0
                for d in 0..<hd { dot += qi[d] * kj[d] }
                var x = dot * scale + bp[(head * n + i) * n + j]
                if shift > 0 && label[i] != label[j] { x += -100 }
                s[i * n + j] = x
              }
              Norms.softmaxRows(s + i * n, rows: 1, cols: n)
              for d in 0..<hd { ctxRow[d] = 0 }
              for j in 0..<n {
                let pj = s[i * n + j], vj = rowsV[j] + off
                for d in 0..<hd { ctxRow[d] += pj * vj[d] }
              }
              let dst = op + src[i] * c + off
              for d in 0..<hd { dst[d] = ctxRow[d] }
            }
          }
        }
      }
    }}}}}}}}
    return out
  }
}
