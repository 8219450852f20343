// SwinSelfAttention: windowed multi-head self-attention of one Swin block, with the relative position
// bias and the −100 shift mask. Mirrors MaskFormerSwinSelfAttention and the window handling of
// MaskFormerSwinLayer (transformers, modeling_maskformer_swin.py): the map is padded to a multiple of
// the window (never shrunk), padded tokens are NOT masked, and the shift is kept on small maps.
import Kernels
import Quant

public struct SwinSelfAttention {
  /// `<block>.attention.self`.
  public let name: ModulePath
  public let query: Linear
  public let key: Linear
  public let value: Linear
  /// `relative_position_bias_table`: `[(2w−1)², heads]` (from a checkpoint).
  public let relativePositionBiasTable: WeightTensor?
  /// The same bias gathered, `[heads, w², w²]` (from a model file).
  public let gatheredBias: WeightTensor?
  public let numHeads: Int
  public let windowSize: Int

  public init(name: ModulePath, query: Linear, key: Linear, value: Linear, relativePositionBiasTable: WeightTensor?, gatheredBias: WeightTensor? = nil,
              numHeads: Int, windowSize: Int) {
    precondition(relativePositionBiasTable != nil || gatheredBias != nil, "SwinSelfAttention needs its relative position bias")
    self.name = name
    self.query = query
    self.key = key
    self.value = value
    self.relativePositionBiasTable = relativePositionBiasTable
    self.gatheredBias = gatheredBias
    self.numHeads = numHeads
    self.windowSize = windowSize
    qkv = [query, key, value]
    sharedInput = Linear.sharedInput(qkv)
  }

  /// The bias `[heads, w², w²]`: the model file's gathered tensor, or the checkpoint's table gathered.
  public func relativePositionBias() -> [Float] {
    if let g = gatheredBias { return Array(UnsafeBufferPointer(start: g.pointer, count: g.count)) }
    guard let relativePositionBiasTable else { return [] }
    return Self.gather(table: relativePositionBiasTable, heads: numHeads, window: windowSize)
  }

  /// `bias[h][i][j] = table[(r_i − r_j + w−1)·(2w−1) + (c_i − c_j + w−1)][h]` for window tokens i, j.
  public static func gather(table: WeightTensor, heads: Int, window w: Int) -> [Float] {
    let n = w * w
    var out = [Float](repeating: 0, count: heads * n * n)
    for i in 0..<n {
      for j in 0..<n {
        let idx = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1)
        for h in 0..<heads { out[(h * n + i) * n + j] = table[idx * heads + h] }
      }
    }
    return out
  }

  /// The windows of an `h × w` map: padded up to whole windows, rolled by `shift` (torch.roll by −shift).
  struct Windows {
    let h: Int, w: Int, size: Int, shift: Int
    var hp: Int { (h + size - 1) / size * size }
    var wp: Int { (w + size - 1) / size * size }
    var perRow: Int { wp / size }
    var count: Int { (hp / size) * perRow }
    var tokens: Int { size * size }

    /// The real token (`y·w + x`) at slot `i` of window `win`, or −1 for padding.
    func token(_ win: Int, _ i: Int) -> Int {
      let py = (win / perRow) * size + i / size, px = (win % perRow) * size + i % size   // shifted, padded map
      let sy = (py + shift) % hp, sx = (px + shift) % wp                                 // before the roll
      return sy < h && sx < w ? sy * w + sx : -1
    }

    /// Shift-mask region label of slot `i` (same label: may attend; torch's img_mask with 3×3 regions).
    func label(_ win: Int, _ i: Int) -> Int {
      guard shift > 0 else { return 0 }
      let py = (win / perRow) * size + i / size, px = (win % perRow) * size + i % size
      func region(_ v: Int, _ n: Int) -> Int { v < n - size ? 0 : (v < n - shift ? 1 : 2) }
      return 3 * region(py, hp) + region(px, wp)
    }
  }

  /// Attention over the windows `first ..< first + slotRow.count / n` of `windows`. `normed` holds the
  /// LayerNorm output of their real tokens (`rows × C`), row `slotRow[(win − first)·n + i]` for slot
  /// `i` (−1: padding). Returns the context (before the output projection) in the same rows.
  ///
  /// Per window and head: `S = Q·Kᵀ/√d + bias (+ mask)`, `P = softmax_j(S)`, `O = P·V`, over the
  /// `w²` tokens of the shifted, padded map. Padded tokens have q, k, v = the projection biases.
  func callAsFunction(_ normed: ArenaArray<Float>, rows: Int, channels c: Int, windows: Windows, first: Int, slotRow: ArenaArray<Int32>,
                      in ctx: InferenceContext) -> ArenaArray<Float> {
    attend(Linear.fused(qkv, normed, rows: rows, in: ctx), rows: rows, channels: c, windows: windows, first: first,
           slotRow: slotRow, in: ctx)
  }

  /// The same from the LayerNorm output already in int8 with `sharedInput` (q, k and v read it in place).
  func callAsFunction(quantized a: QuantizedRows, channels c: Int, windows: Windows, first: Int, slotRow: ArenaArray<Int32>,
                      in ctx: InferenceContext) -> ArenaArray<Float> {
    attend(Linear.fused(qkv, a, in: ctx), rows: a.rows, channels: c, windows: windows, first: first, slotRow: slotRow, in: ctx)
  }

  /// The input parameters q, k and v share when all three are int8 (the LayerNorm before can write them).
  /// (Set once: worked out per chunk it made two arrays, issue 19.)
  public let sharedInput: QuantParams?
  /// [query, key, value], made once (not per chunk).
  private let qkv: [Linear]

  private func attend(_ qkv: Linear.Fused3, rows: Int, channels c: Int, windows: Windows, first: Int, slotRow: ArenaArray<Int32>,
                      in ctx: InferenceContext) -> ArenaArray<Float> {
    let n = windows.tokens, hd = c / numHeads, shift = windows.shift
    let (q, k, v) = qkv
    // Padded positions are zeros after the LayerNorm, so their projections are the biases.
    var padQKV = ctx.zeros(3 * c)
    if !ctx.isDryRun { padQKV.withUnsafeMutableBufferPointer { pb in
      func copyBias(_ l: Linear, _ m: Int) { if let b = l.bias { (pb.baseAddress! + m * c).update(from: b.pointer, count: c) } }
      copyBias(query, 0); copyBias(key, 1); copyBias(value, 2)
    }}
    // A model file's gathered bias is read in place; a checkpoint's is gathered here.
    let gathered = gatheredBias == nil ? relativePositionBias() : []
    // Every row is one window's slot and every head writes its columns: no zero fill (it was 1.2 % of a forward).
    var out = ctx.floats(rows * c) { _ in }
    let count = slotRow.count / n
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    padQKV.withUnsafeBufferPointer { pb in gathered.withUnsafeBufferPointer { gb in out.withUnsafeMutableBufferPointer { ob in
    slotRow.withUnsafeBufferPointer { sb in
      let qkv = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!), pad = pb.baseAddress!
      let bp = gatheredBias?.pointer ?? gb.baseAddress!, op = ob.baseAddress!, slots = sb.baseAddress!
      // int8 attention where q, k and v are int8 layers, on the window shapes it has (and the kernel table has it).
      let int8 = sharedInput != nil && Attention.int8WindowSupported(n: n, headDim: hd) ? ctx.kernels.int8Attention : nil
      let scratchCount = Swift.max(Attention.windowScratchCount(n: n, headDim: hd), (Attention.windowInt8ScratchBytes(n: n, headDim: hd) + 3) / 4)
      let info = ctx.info(OpInfo(name: name.parent.key("windows"), kind: "attention",
                        macs: count * numHeads * 2 * n * n * hd, bytes: 16 * count * n * c, precision: int8 == nil ? "f32" : "int8"))
      ctx.observer?.begin(info!, input: nil)
      defer { ctx.observer?.end(info!, output: TensorView(.float(op), rows: rows, columns: c), shape: [rows, c]) }
      // Per worker: slot labels, q/k/v row pointers (whole and per head), output rows, mask and kernel scratch.
      func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
      let labelBytes = aligned(n * 8), rowBytes = aligned(6 * n * 8), outBytes = aligned(2 * n * 8)
      let perWorker = labelBytes + rowBytes + outBytes + aligned((n * n + scratchCount) * 4)
      var workspace = ArenaArray<UInt8>(unsafeUninitializedCount: parallelWorkers(count, threads: ctx.threads) * perWorker, in: ctx.arena) { _ in }
      if !ctx.isDryRun { workspace.withUnsafeMutableBufferPointer { wb in
      let shared = (first, wb.baseAddress!, perWorker, labelBytes, rowBytes, outBytes, n, c, hd, numHeads, shift, scratchCount,
                    windows, slots, qkv, pad, op, bp, int8, ctx.kernels.attention)
      parallelForWorkers(count, threads: ctx.threads, sharing: shared) { s, local, worker in
        let (first, wb, perWorker, labelBytes, rowBytes, outBytes, n, c, hd, numHeads, shift, scratchCount,
             windows, slots, qkv, pad, op, bp, int8, attentionKernel) = s
        let win = first + local
        let base = UnsafeMutableRawPointer(wb) + worker * perWorker
        let label = base.bindMemory(to: Int.self, capacity: n)
        let rq = (base + labelBytes).bindMemory(to: UnsafePointer<Float>.self, capacity: 6 * n), rk = rq + n, rv = rk + n  // q/k/v rows of each slot, read in place
        let hq = rv + n, hk = hq + n, hv = hk + n                                                                        // the same, offset to one head
        let ro = (base + labelBytes + rowBytes).bindMemory(to: UnsafeMutablePointer<Float>?.self, capacity: 2 * n), ho = ro + n  // output row of each slot (nil: padding, cropped away)
        let mask = (base + labelBytes + rowBytes + outBytes).bindMemory(to: Float.self, capacity: n * n + scratchCount), scratch = mask + n * n
        for i in 0..<n {
          let row = Int(slots[local * n + i])
          label[i] = windows.label(win, i)
          rq[i] = row >= 0 ? qkv.0 + row * c : pad
          rk[i] = row >= 0 ? qkv.1 + row * c : pad + c
          rv[i] = row >= 0 ? qkv.2 + row * c : pad + 2 * c
          ro[i] = row >= 0 ? op + row * c : nil
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
          if let int8 {
            Attention.windowInt8(n: n, headDim: hd, q: hq, k: hk, v: hv, bias: bp + head * n * n, mask: shift > 0 ? mask : nil,
                                 out: ho, scratch: UnsafeMutableRawPointer(scratch), kernel: int8)
          } else {
            Attention.window(n: n, headDim: hd, q: hq, k: hk, v: hv, bias: bp + head * n * n, mask: shift > 0 ? mask : nil,
                             out: ho, scratch: scratch, kernel: attentionKernel)
          }
        }
      }
      }}
    }}}}}}}
    return out
  }
}

extension SwinSelfAttention {
  /// `<block>.attention.self`: query, key, value, and the relative position bias.
  init(_ p: ModulePath, channels c: Int, heads: Int, _ s: SwinConfig, from source: any TensorSource) throws {
    let query = try source.linear(p.child("query"), out: c, in: c, bias: s.qkvBias)
    let key = try source.linear(p.child("key"), out: c, in: c, bias: s.qkvBias)
    let value = try source.linear(p.child("value"), out: c, in: c, bias: s.qkvBias)
    let bias = try source.relativePositionBias(p, heads: heads, window: s.windowSize)
    self.init(name: p, query: query, key: key, value: value, relativePositionBiasTable: bias.table, gatheredBias: bias.gathered, numHeads: heads,
              windowSize: s.windowSize)
  }
}
