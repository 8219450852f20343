// SwinBackbone: patch embedding, four stages of Swin blocks with patch merging between them, and a
// LayerNorm on each stage's output taken BEFORE merging. Mirrors MaskFormerSwinStage, MaskFormerSwinEncoder
// and MaskFormerSwinBackbone (transformers, modeling_maskformer_swin.py). `model.layernorm` is unused.

public struct SwinStage {
  public let blocks: [SwinLayer]
  /// Patch merging after the stage (nil for the last stage).
  public let downsample: SwinPatchMerging?

  public init(blocks: [SwinLayer], downsample: SwinPatchMerging?) {
    self.blocks = blocks
    self.downsample = downsample
  }
}

public struct SwinBackbone {
  public let embeddings: SwinPatchEmbeddings
  public let stages: [SwinStage]
  /// `hidden_states_norms.{s}`: LayerNorm(C_s) applied to each stage's output.
  public let stageNorms: [LayerNorm]

  public init(embeddings: SwinPatchEmbeddings, stages: [SwinStage], stageNorms: [LayerNorm]) {
    precondition(stages.count == stageNorms.count, "one norm per stage")
    self.embeddings = embeddings
    self.stages = stages
    self.stageNorms = stageNorms
  }

  /// pixelValues `[3, H, W]` → features at strides 4, 8, 16, 32 (`H_s × W_s × C_s`, each normed).
  /// The image is handed to the patch embedding and freed there.
  func callAsFunction(_ pixelValues: consuming [Float], height: Int, width: Int, in ctx: InferenceContext) -> [FeatureMap] {
    ctx.profiler?.begin("encoder.embeddings", kind: "block")
    var x = embeddings(consume pixelValues, height: height, width: width, in: ctx)
    ctx.profiler?.end(shape: [x.height, x.width, x.channels])
    var features: [FeatureMap] = []
    for (s, stage) in stages.enumerated() {
      ctx.profiler?.begin("encoder.stage\(s)", kind: "stage")
      for block in stage.blocks { block(&x, in: ctx) }
      var feature = x
      feature.data = ctx.layerNorm(x.data, rows: x.pixels, stageNorms[s])
      ctx.record("encoder.stage\(s)", feature)
      features.append(feature)
      if let merge = stage.downsample {
        x = ctx.span("encoder.stage\(s).downsample", "block", shape: { [$0.height, $0.width, $0.channels] }) { merge(x, in: ctx) }
      }
      ctx.profiler?.end(shape: [feature.height, feature.width, feature.channels])
    }
    return features
  }
}
