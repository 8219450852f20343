// DetrAttention: multi-head attention of the DETR decoder, used as self-attention (position on q and k)
// and cross-attention (query position on q, sine position on k). Mirrors MaskFormerDetrSelfAttention and
// MaskFormerDetrCrossAttention (transformers, modeling_maskformer.py).
import Kernels

public struct DetrAttention {
  public let qProj: Linear
  public let kProj: Linear
  public let vProj: Linear
  /// `out_proj` in checkpoint files (`o_proj` in the v5 module tree).
  public let outProj: Linear
  public let heads: Int

  public init(qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear, heads: Int) {
    self.qProj = qProj
    self.kProj = kProj
    self.vProj = vProj
    self.outProj = outProj
    self.heads = heads
  }

  /// `out_proj(concat_h softmax(Q_h K_hᵀ/√d) V_h) + residual`, with Q from qIn (nq rows), K from kIn and
  /// V from vIn (nk rows each).
  func callAsFunction(qIn: ArenaArray<Float>, nq: Int, kIn: ArenaArray<Float>, vIn: ArenaArray<Float>, nk: Int,
                      residual: ArenaArray<Float>, in ctx: InferenceContext) -> ArenaArray<Float> {
    let d = qProj.outFeatures, hd = d / heads
    let q = ctx.linear(qIn, rows: nq, qProj), k = ctx.linear(kIn, rows: nk, kProj), v = ctx.linear(vIn, rows: nk, vProj)
    let scale = 1 / Float(hd).squareRoot()
    var context = ctx.zeros(nq * d)
    let info = OpInfo(name: moduleName(outProj.name, droppingLast: 1) + ".softmax_attention", kind: "attention",
                      macs: 2 * nq * nk * d, bytes: 4 * (2 * nq + 2 * nk) * d, precision: "f32")
    ctx.observer?.begin(info, input: nil)
    defer { context.withUnsafeBufferPointer { ctx.observer?.end(info, output: .floats($0, columns: d), shape: [nq, d]) } }
    // Per worker: one head's keys transposed and a row of scores.
    let perWorker = (hd * nk + nk + 15) / 16 * 16
    var workspace = ArenaArray<Float>(unsafeUninitializedCount: parallelWorkers(heads, threads: ctx.threads) * perWorker, in: ctx.arena) { _ in }
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    context.withUnsafeMutableBufferPointer { cb in workspace.withUnsafeMutableBufferPointer { wb in
      let (qp, kp, vp, cp) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, cb.baseAddress!)
      parallelForWorkers(heads, threads: ctx.threads) { head, worker in
        let off = head * hd
        do {
          let kT = wb.baseAddress! + worker * perWorker, s = kT + hd * nk          // kT: this head's keys transposed, hd × nk
          for j in 0..<nk {
            for t in 0..<hd { kT[t * nk + j] = kp[j * d + off + t] }
          }
          for i in 0..<nq {
            let qi = qp + i * d + off
            for j in 0..<nk { s[j] = 0 }
            for t in 0..<hd {
              let x = qi[t], kt = kT + t * nk
              for j in 0..<nk { s[j] += x * kt[j] }
            }
            for j in 0..<nk { s[j] *= scale }
            FastMath.softmax(s, count: nk)
            let dst = cp + i * d + off
            for j in 0..<nk {
              let pj = s[j], vj = vp + j * d + off
              for t in 0..<hd { dst[t] += pj * vj[t] }
            }
          }
        }
      }
    }}}}}
    return ctx.linear(context, rows: nq, outProj, residual: residual)
  }
}
