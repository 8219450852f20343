// SwinLayer: one pre-norm Swin block (window attention + MLP, two residuals). Mirrors MaskFormerSwinLayer
// with MaskFormerSwinAttention/SelfOutput/Intermediate/Output (transformers, modeling_maskformer_swin.py).
import Kernels

public struct SwinLayer {
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

  public init(layernormBefore: LayerNorm, attention: SwinSelfAttention, attentionOutput: Linear,
              layernormAfter: LayerNorm, intermediate: Linear, output: Linear, activation: Activation, shift: Int) {
    self.layernormBefore = layernormBefore
    self.attention = attention
    self.attentionOutput = attentionOutput
    self.layernormAfter = layernormAfter
    self.intermediate = intermediate
    self.output = output
    self.activation = activation
    self.shift = shift
  }

  /// x: `H × W × C` tokens → same shape.
  ///   x = x + proj(WindowAttention(LN_before(x)));  x = x + fc2(act(fc1(LN_after(x))))
  func callAsFunction(_ x: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    ctx.span(moduleName(attentionOutput.name, droppingLast: 3), "block",
             shape: { [$0.height, $0.width, $0.channels] }) { forward(x, in: ctx) }
  }

  private func forward(_ x: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    let rows = x.pixels
    var normed = x
    normed.data = ctx.layerNorm(x.data, rows: rows, layernormBefore)
    let context = attention(normed, shift: shift, in: ctx)
    let afterAttention = ctx.linear(context, rows: rows, attentionOutput, residual: x.data)
    var y = x
    y.data = ctx.mlp(ctx.layerNorm(afterAttention, rows: rows, layernormAfter), rows: rows, intermediate, output,
                     activation: activation, residual: afterAttention)
    return y
  }
}
