// SwinLayer: one pre-norm Swin block (window attention + MLP, two residuals). Mirrors MaskFormerSwinLayer
// with MaskFormerSwinAttention/SelfOutput/Intermediate/Output (transformers, modeling_maskformer_swin.py).
import Kernels

public struct SwinLayer {
  /// `<encoder>.model.encoder.layers.{stage}.blocks.{block}`.
  public let name: ModulePath
  public let layernormBefore: LayerNorm
  public let attention: SwinSelfAttention
  /// `attention.output.dense`.
  public let attentionOutput: Linear
  public let layernormAfter: LayerNorm
  /// `intermediate.dense` (C → 4C) followed by `activation`.
  public let intermediate: Linear
  /// `output.dense` (4C → C).
  public let output: Linear
  public let activation: Activation
  /// 0 for even blocks, window/2 for odd ones.
  public let shift: Int

  public init(name: ModulePath, layernormBefore: LayerNorm, attention: SwinSelfAttention, attentionOutput: Linear,
              layernormAfter: LayerNorm, intermediate: Linear, output: Linear, activation: Activation, shift: Int) {
    self.name = name
    self.layernormBefore = layernormBefore
    self.attention = attention
    self.attentionOutput = attentionOutput
    self.layernormAfter = layernormAfter
    self.intermediate = intermediate
    self.output = output
    self.activation = activation
    self.shift = shift
  }

  /// x: `H × W × C` tokens, updated in place.
  ///   x = x + proj(Attention.window(LN_before(x)));  x = x + fc2(act(fc1(LN_after(x))))
  /// Streamed: the attention half runs on whole windows and the MLP half on token rows, at most
  /// `ctx.tokenChunk` tokens at a time, so that q, k, v and the MLP's hidden activations exist for one
  /// chunk only. Each token belongs to exactly one window and every op is row-wise or per window,
  /// so the result does not depend on the chunk size.
  func callAsFunction(_ x: inout FeatureMap, in ctx: InferenceContext) {
    let (h, w, c) = (x.height, x.width, x.channels)   // the shape's array is made only when observed
    ctx.span(name.description, "block", shape: { _ in [h, w, c] }) { forward(&x, in: ctx) }
  }

  private func forward(_ x: inout FeatureMap, in ctx: InferenceContext) {
    let (h, w, c) = (x.height, x.width, x.channels)
    let windows = SwinSelfAttention.Windows(h: h, w: w, size: attention.windowSize, shift: shift)
    let n = windows.tokens
    let chunk = Swift.max(ctx.tokenChunk, n)
    let windowsPerChunk = Swift.min(windows.count, chunk / n)
    x.data.withUnsafeMutableBufferPointer { xb in
      let xp = xb.baseAddress!
      for first in stride(from: 0, to: windows.count, by: windowsPerChunk) {
        let last = Swift.min(windows.count, first + windowsPerChunk)
        // slotRow[(win − first)·n + i]: the chunk row of slot i of window win (−1: padding);
        // tokens[r]: the map token of chunk row r.
        var slotRow = ArenaArray(repeating: Int32(-1), count: (last - first) * n, in: ctx.arena)
        var tokens = ArenaArray(repeating: 0, count: slotRow.count, in: ctx.arena)
        var rows = 0
        if ctx.isDryRun {
          for win in first..<last { for i in 0..<n where windows.token(win, i) >= 0 { rows += 1 } }
        } else { slotRow.withUnsafeMutableBufferPointer { sb in
          tokens.withUnsafeMutableBufferPointer { tb in
            for win in first..<last {
              for i in 0..<n {
                let t = windows.token(win, i)
                guard t >= 0 else { continue }
                sb[(win - first) * n + i] = Int32(rows)
                tb[rows] = t
                rows += 1
              }
            }
          }
        }}
        let xs = tokens.withUnsafeBufferPointer { tb in
          ctx.floats(rows * c) { b in
            guard !ctx.isDryRun else { return }
            parallelFor((rows + 511) / 512, threads: ctx.threads, sharing: (rows, b.baseAddress!, xp, tb.baseAddress!, c)) { s, blk in
              let (rows, b, xp, tb, c) = s
              for r in (blk * 512)..<Swift.min(rows, blk * 512 + 512) { (b + r * c).update(from: xp + tb[r] * c, count: c) }
            }
          }
        }
        // With int8 q/k/v the LayerNorm writes their shared int8 input directly.
        let context = if let p = attention.sharedInput {
          attention(quantized: xs.withUnsafeBufferPointer { layernormBefore.quantizedRows($0.baseAddress!, rows: rows, p, in: ctx) },
                    channels: c, windows: windows, first: first, slotRow: slotRow, in: ctx)
        } else {
          attention(layernormBefore(xs, rows: rows, in: ctx), rows: rows, channels: c, windows: windows, first: first, slotRow: slotRow, in: ctx)
        }
        let y = attentionOutput(context, rows: rows, residual: xs, in: ctx)
        if !ctx.isDryRun { y.withUnsafeBufferPointer { yb in
          tokens.withUnsafeBufferPointer { tb in
            parallelFor((rows + 511) / 512, threads: ctx.threads, sharing: (rows, yb.baseAddress!, xp, tb.baseAddress!, c)) { s, blk in
              let (rows, yb, xp, tb, c) = s
              for r in (blk * 512)..<Swift.min(rows, blk * 512 + 512) { (xp + tb[r] * c).update(from: yb + r * c, count: c) }
            }
          }
        }}
      }
      let total = h * w
      for a in stride(from: 0, to: total, by: Swift.min(chunk, total)) {
        let rows = Swift.min(chunk, total - a), row = xp + a * c
        if let p = intermediate.quantized?.input, output.quantized != nil {
          // int8: fc2 adds its result to the rows in place.
          Linear.mlp(intermediate, output, layernormAfter.quantizedRows(row, rows: rows, p, in: ctx), activation: activation, addingTo: row, in: ctx)
        } else {
          let y = Linear.mlp(intermediate, output, layernormAfter(row, rows: rows, in: ctx), rows: rows, activation: activation, residual: row, in: ctx)
          if !ctx.isDryRun { y.withUnsafeBufferPointer { row.update(from: $0.baseAddress!, count: rows * c) } }
        }
      }
    }
  }
}

extension SwinLayer {
  /// `<encoder>.model.encoder.layers.{stage}.blocks.{block}`.
  init(_ p: ModulePath, stage: Int, block: Int, _ s: SwinConfig, from source: any TensorSource) throws {
    let c = s.channels(stage: stage), hidden = s.mlpHidden(stage: stage)
    let before = try source.layerNorm(p.child("layernorm_before"), c, eps: s.layerNormEps)
    let attention = try SwinSelfAttention(p.child("attention.self"), channels: c, heads: s.numHeads[stage], s, from: source)
    self.init(name: p, layernormBefore: before, attention: attention,
              attentionOutput: try source.linear(p.child("attention.output.dense"), out: c, in: c, bias: true),
              layernormAfter: try source.layerNorm(p.child("layernorm_after"), c, eps: s.layerNormEps),
              intermediate: try source.linear(p.child("intermediate.dense"), out: hidden, in: c, bias: true),
              output: try source.linear(p.child("output.dense"), out: c, in: hidden, bias: true),
              activation: s.hiddenAct, shift: block % 2 == 0 ? 0 : s.windowSize / 2)
  }
}
