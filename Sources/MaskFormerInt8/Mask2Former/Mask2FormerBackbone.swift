// Mask2Former (issue 21), the first block: its backbone, transformers' generic Swin (`SwinBackbone`, run with
// `always_partition`, so it pads maps smaller than the window and keeps window and shift: the same math as
// MaskFormer's copy, ../shared/mask2former-spec.md §2), read from a Mask2Former checkpoint's names. The
// pixel decoder, the masked-attention decoder and the heads follow in later increments.

import Quant

/// The backbone of a Mask2Former checkpoint (`model.pixel_level_module.encoder`).
public struct Mask2FormerBackbone {
  let swin: SwinBackbone

  public init(config: Mask2FormerConfig, from source: any TensorSource) throws {
    swin = try SwinBackbone(ModulePath("model.pixel_level_module.encoder"), config.swin, layout: .generic, from: source)
  }

  /// pixelValues `[3, H, W]` → the normed stage maps at strides 4, 8, 16, 32 (`H_s × W_s × C_s`), which an
  /// observer also sees as `encoder.stage{s}`. `quantizeFor[s]`: stage s's map comes out in int8 for the int8
  /// conv that reads it (`SwinBackbone`: the float map never exists whole).
  func callAsFunction(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, quantizeFor: [QuantParams?],
                      in ctx: InferenceContext) -> StageFeatures {
    swin(pixelValues, height: height, width: width, quantizeFor: quantizeFor, in: ctx)
  }
}
