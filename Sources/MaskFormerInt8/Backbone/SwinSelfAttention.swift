// SwinSelfAttention: windowed multi-head self-attention of one Swin block, with the relative position
// bias and the −100 shift mask. Mirrors MaskFormerSwinSelfAttention and the window handling of
// MaskFormerSwinLayer (transformers, modeling_maskformer_swin.py): the map is padded to a multiple of
// the window (never shrunk), padded tokens are NOT masked, and the shift is kept on small maps.
import Kernels

public struct SwinSelfAttention {
  public let query: Linear
  public let key: Linear
  public let value: Linear
  /// `relative_position_bias_table`: `[(2w−1)², heads]` (from a checkpoint).
  public let relativePositionBiasTable: WeightTensor?
  /// The same bias gathered, `[heads, w², w²]` (from a model file).
  public let gatheredBias: WeightTensor?
  public let numHeads: Int
  public let windowSize: Int

  public init(query: Linear, key: Linear, value: Linear, relativePositionBiasTable: WeightTensor?, gatheredBias: WeightTensor? = nil,
              numHeads: Int, windowSize: Int) {
    precondition(relativePositionBiasTable != nil || gatheredBias != nil, "SwinSelfAttention needs its relative position bias")
    self.query = query
    self.key = key
    self.value = value
    self.relativePositionBiasTable = relativePositionBiasTable
    self.gatheredBias = gatheredBias
    self.numHeads = numHeads
    self.windowSize = windowSize
  }

  /// `bias[h][i][j] = table[(r_i − r_j + w−1)·(2w−1) + (c_i − c_j + w−1)][h]` for window tokens i, j.
  public func relativePositionBias() -> [Float] {
    let w = windowSize, n = w * w
    if let g = gatheredBias { return Array(UnsafeBufferPointer(start: g.pointer, count: g.count)) }
    guard let relativePositionBiasTable else { return [] }
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
  ///
  /// Per window and head: `S = Q·Kᵀ/√d + bias (+ mask)`, `P = softmax_j(S)`, `O = P·V`, over the
  /// `w²` tokens of the shifted, padded map. Padded tokens have q, k, v = the projection biases.
  func callAsFunction(_ normed: FeatureMap, shift: Int, in ctx: InferenceContext) -> [Float] {
    let (h, w, c) = (normed.height, normed.width, normed.channels)
    let ws = windowSize, n = ws * ws, hd = c / numHeads
    let hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws
    let qkv = ctx.linears(normed.data, rows: h * w, [query, key, value])
    let (q, k, v) = (qkv[0], qkv[1], qkv[2])
    // Padded positions are zeros after the LayerNorm, so their projections are the biases.
    let zeros = [Float](repeating: 0, count: c)
    let padQKV = [query, key, value].flatMap { l in l.bias.map { Array(UnsafeBufferPointer(start: $0.pointer, count: c)) } ?? zeros }
    let bias = relativePositionBias()
    // Shift-mask region of a padded, shifted coordinate: 0 below hp−ws, 1 below hp−shift, else 2.
    func region(_ i: Int, _ size: Int) -> Int { i < size - ws ? 0 : (i < size - shift ? 1 : 2) }
    var out = [Float](repeating: 0, count: h * w * c)
    let windowsX = wp / ws
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    padQKV.withUnsafeBufferPointer { pb in bias.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { ob in
      let qkv = [qb.baseAddress!, kb.baseAddress!, vb.baseAddress!], pad = pb.baseAddress!
      let bp = bb.baseAddress!, op = ob.baseAddress!
      let scratchCount = WindowAttention.scratchCount(n: n, headDim: hd)
      let windows = (hp / ws) * windowsX
      ctx.profiler?.begin(moduleName(query.name, droppingLast: 2) + ".windows", kind: "attention",
                          macs: windows * numHeads * 2 * n * n * hd, bytes: 16 * windows * n * c)
      defer { ctx.profiler?.end(shape: [h * w, c]) }
      parallelFor((hp / ws) * windowsX, threads: ctx.threads) { win in
        let wy = win / windowsX, wx = win % windowsX
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * n) { ints in
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 6 * n) { rowBuf in
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 2 * n) { outBuf in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n * n + scratchCount) { buf in
          let src = ints.baseAddress!, label = src + n          // src: real token of slot i, or −1 for padding
          let rq = rowBuf.baseAddress!, rk = rq + n, rv = rk + n  // q/k/v rows of each slot, read in place
          let hq = rv + n, hk = hq + n, hv = hk + n                // the same, offset to one head
          let ro = outBuf.baseAddress!, ho = ro + n                // output row of each slot (nil: padding, cropped away)
          let mask = buf.baseAddress!, scratch = mask + n * n
          for i in 0..<n {
            let py = wy * ws + i / ws, px = wx * ws + i % ws        // position in the shifted, padded map
            let sy = (py + shift) % hp, sx = (px + shift) % wp      // where it was before the roll
            label[i] = shift > 0 ? 3 * region(py, hp) + region(px, wp) : 0
            src[i] = sy < h && sx < w ? sy * w + sx : -1
            for m in 0..<3 { (rq + m * n)[i] = src[i] >= 0 ? qkv[m] + src[i] * c : pad + m * c }
            ro[i] = src[i] >= 0 ? op + src[i] * c : nil
          }
          if shift > 0 {
            for i in 0..<n {
              for j in 0..<n { mask[i * n + j] = label[i] == label[j] ? 0 : -100 }
            }
          }
          for head in 0..<numHeads {
            let off = head * hd
            for i in 0..<n {
              hq[i] = rq[i] + off; hk[i] = rk[i] + off; hv[i] = rv[i] + off
              ho[i] = ro[i].map { $0 + off }
            }
            WindowAttention.run(n: n, headDim: hd, q: hq, k: hk, v: hv, bias: bp + head * n * n, mask: shift > 0 ? mask : nil,
                                out: ho, scratch: scratch, kernel: ctx.kernels.f32GEMM)
          }
        }
        }
        }
        }
      }
    }}}}}}
    return out
  }
}
