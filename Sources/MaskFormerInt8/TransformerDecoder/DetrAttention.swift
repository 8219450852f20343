// DetrAttention: multi-head attention of the DETR decoder, used as self-attention (position on q and k)
// and cross-attention (query position on q, sine position on k). Mirrors MaskFormerDetrSelfAttention and
// MaskFormerDetrCrossAttention (transformers, modeling_maskformer.py).
import Kernels

public struct DetrAttention {
  /// `<layer>.self_attn` or `<layer>.encoder_attn`.
  public let name: ModulePath
  public let qProj: Linear
  public let kProj: Linear
  public let vProj: Linear
  /// `out_proj` in checkpoint files (`o_proj` in the v5 module tree).
  public let outProj: Linear
  public let heads: Int

  public init(name: ModulePath, qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear, heads: Int) {
    self.name = name
    self.qProj = qProj
    self.kProj = kProj
    self.vProj = vProj
    self.outProj = outProj
    self.heads = heads
  }

  /// `out_proj(concat_h softmax(Q_h K_hᵀ/√d) V_h) + residual`, with Q from qIn (nq rows), K from kIn and
  /// V from vIn (nk rows each). With a `mask` (`nq × nk`, 0 or −∞ added to the scores of every head; no row
  /// all −∞): Mask2Former's masked cross-attention.
  func callAsFunction(qIn: ArenaArray<Float>, nq: Int, kIn: ArenaArray<Float>, vIn: ArenaArray<Float>, nk: Int,
                      residual: ArenaArray<Float>, mask: ArenaArray<Float>? = nil, in ctx: InferenceContext) -> ArenaArray<Float> {
    let q = qProj(qIn, rows: nq, in: ctx), k = kProj(kIn, rows: nk, in: ctx), v = vProj(vIn, rows: nk, in: ctx)
    return attend(q: q, nq: nq, k: k, v: v, nk: nk, residual: residual, mask: mask, in: ctx)
  }

  /// As above with the keys projected by the caller (`kProj` of kIn: Mask2Former makes them in chunks).
  func callAsFunction(qIn: ArenaArray<Float>, nq: Int, keys k: ArenaArray<Float>, vIn: ArenaArray<Float>, nk: Int,
                      residual: ArenaArray<Float>, mask: ArenaArray<Float>? = nil, in ctx: InferenceContext) -> ArenaArray<Float> {
    let q = qProj(qIn, rows: nq, in: ctx), v = vProj(vIn, rows: nk, in: ctx)
    return attend(q: q, nq: nq, k: k, v: v, nk: nk, residual: residual, mask: mask, in: ctx)
  }

  /// The same attention with the keys and values made one head at a time (Mask2Former's cross-attention under
  /// a memory budget): for each head, its `hd` output features of `k_proj` and `v_proj` (`Linear.outputs`) on the
  /// keys' input that `keyInput` writes `chunk` rows at a time and on the values' input vIn (`nk × D`), then that
  /// head's attention, its queries split between the threads. One head's keys and values (`nk × hd` each) exist
  /// at a time instead of all (`nk × D`: 128 MiB at stride 8 of a 2048x2048 input), for making the projections'
  /// inputs once per head. An int8 layer is sliced by whole panels of 16 output channels, so heads narrower than
  /// that go in groups (hd 8: two at a time). The same values: a GEMM's output does not depend on its other
  /// columns, nor a head's attention (a query row's) on the other heads (rows).
  func headByHead(qIn: ArenaArray<Float>, nq: Int, nk: Int, chunk: Int,
                  keyInput: (_ t0: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) -> Void,
                  values vIn: UnsafePointer<Float>, residual: ArenaArray<Float>, mask: ArenaArray<Float>, in ctx: InferenceContext) -> ArenaArray<Float> {
    let d = qProj.outFeatures, hd = d / heads, scale = 1 / Float(hd).squareRoot()
    // Heads per group: the fewest whose width is whole panels when a projection is int8.
    let panel = QGEMMPanelLayout.channels
    let per = kProj.quantized == nil && vProj.quantized == nil ? 1 : (1...heads).first { $0 * hd % panel == 0 && heads % $0 == 0 } ?? heads
    let width = per * hd, groups = (0..<(heads / per)).map { $0 * width..<($0 + 1) * width }
    precondition(mask.count == nq * nk, "attention mask: \(mask.count) values for \(nq)x\(nk)")
    let q = qProj(qIn, rows: nq, in: ctx)
    var context = ctx.floats(nq * d) { _ in }
    let info = ctx.info(attentionInfo(nq: nq, nk: nk))
    ctx.observer?.begin(info!, input: nil)
    let workers = Swift.min(ctx.threads, nq), perWorker = Attention.denseScratchCount(keys: nk, headDim: hd)
    var workspace = ctx.floats(workers * perWorker) { _ in }
    var qg = ctx.floats(nq * width) { _ in }, og = ctx.floats(nq * width) { _ in }
    for cols in groups {
      let k = kProj.outputs(cols).rowsInChunks(nk, chunk: chunk, in: ctx, fill: keyInput)
      let v = vProj.outputs(cols).rowsInChunks(nk, chunk: chunk, of: vIn, in: ctx)
      guard !ctx.isDryRun else { continue }
      q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in mask.withUnsafeBufferPointer { mb in
      context.withUnsafeMutableBufferPointer { cb in qg.withUnsafeMutableBufferPointer { qgb in og.withUnsafeMutableBufferPointer { ogb in
      workspace.withUnsafeMutableBufferPointer { wb in
        for i in 0..<nq { (qgb.baseAddress! + i * width).update(from: qb.baseAddress! + i * d + cols.lowerBound, count: width) }
        ogb.update(repeating: 0)
        parallelFor(workers, threads: ctx.threads) { w in
          let i0 = w * nq / workers, i1 = (w + 1) * nq / workers
          Attention.dense(q: qgb.baseAddress! + i0 * width, queries: i1 - i0, k: kb.baseAddress!, v: vb.baseAddress!, keys: nk, width: width,
                          heads: per, scale: scale, mask: mb.baseAddress! + i0 * nk, out: ogb.baseAddress! + i0 * width,
                          scratch: wb.baseAddress! + w * perWorker, threads: 1, kernel: ctx.kernels.attention)
        }
        for i in 0..<nq { (cb.baseAddress! + i * d + cols.lowerBound).update(from: ogb.baseAddress! + i * width, count: width) }
      }}}}}}}}
    }
    _ = consume workspace
    _ = consume qg
    _ = consume og
    context.withUnsafeBufferPointer { ctx.observer?.end(info!, output: .floats($0, columns: d), shape: [nq, d]) }
    return outProj(context, rows: nq, residual: residual, in: ctx)
  }

  /// The softmax attention as an observer sees it (either form).
  private func attentionInfo(nq: Int, nk: Int) -> OpInfo {
    let d = qProj.outFeatures
    return OpInfo(name: name.key("softmax_attention"), kind: "attention", macs: 2 * nq * nk * d, bytes: 4 * (2 * nq + 2 * nk) * d, precision: "f32")
  }

  private func attend(q: ArenaArray<Float>, nq: Int, k: ArenaArray<Float>, v: ArenaArray<Float>, nk: Int,
                      residual: ArenaArray<Float>, mask: ArenaArray<Float>?, in ctx: InferenceContext) -> ArenaArray<Float> {
    let d = qProj.outFeatures, hd = d / heads
    let scale = 1 / Float(hd).squareRoot()
    var context = ctx.zeros(nq * d)
    let info = ctx.info(attentionInfo(nq: nq, nk: nk))
    ctx.observer?.begin(info!, input: nil)
    defer { context.withUnsafeBufferPointer { ctx.observer?.end(info!, output: .floats($0, columns: d), shape: [nq, d]) } }
    // Per worker: one head's keys transposed and a row of scores.
    let perWorker = Attention.denseScratchCount(keys: nk, headDim: hd)
    var workspace = ArenaArray<Float>(unsafeUninitializedCount: parallelWorkers(heads, threads: ctx.threads) * perWorker, in: ctx.arena) { _ in }
    if !ctx.isDryRun { q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    context.withUnsafeMutableBufferPointer { cb in workspace.withUnsafeMutableBufferPointer { wb in
      let run = { (m: UnsafePointer<Float>?) in
        Attention.dense(q: qb.baseAddress!, queries: nq, k: kb.baseAddress!, v: vb.baseAddress!, keys: nk, width: d, heads: heads, scale: scale,
                        mask: m, out: cb.baseAddress!, scratch: wb.baseAddress!, threads: ctx.threads, kernel: ctx.kernels.attention)
      }
      if let mask {
        precondition(mask.count == nq * nk, "attention mask: \(mask.count) values for \(nq)x\(nk)")
        mask.withUnsafeBufferPointer { run($0.baseAddress!) }
      } else {
        run(nil)
      }
    }}}}}}
    return outProj(context, rows: nq, residual: residual, in: ctx)
  }
}

extension DetrAttention {
  /// `<layer>.self_attn` or `<layer>.encoder_attn`: q, k, v and out projections.
  init(_ p: ModulePath, width d: Int, heads: Int, from source: any TensorSource) throws {
    self.init(name: p, qProj: try source.linear(p.child("q_proj"), out: d, in: d, bias: true),
              kProj: try source.linear(p.child("k_proj"), out: d, in: d, bias: true),
              vProj: try source.linear(p.child("v_proj"), out: d, in: d, bias: true),
              outProj: try source.linear(p.child("out_proj"), out: d, in: d, bias: true),
              heads: heads)
  }
}
