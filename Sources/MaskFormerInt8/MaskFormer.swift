// MaskFormer: MaskFormerForInstanceSegmentation as a composition of its blocks, in the order memory
// wants: pixel level module (Swin encoder, coarse FPN levels) -> transformer module -> heads -> mask
// decoder (stride-4 level, mask projection, mask logits). No math here.
import Quant

/// What the model returns: `class_queries_logits [Q, K+1]` and `masks_queries_logits [Q, h, w]`
/// with h, w = ceil(H/4), ceil(W/4) of the input.
public struct MaskFormerOutput: Sendable {
  public var classLogits: ArenaArray<Float>
  public var maskLogits: ArenaArray<Float>
  public var numQueries: Int
  public var numClasses: Int
  public var maskHeight: Int
  public var maskWidth: Int
}

public struct MaskFormer {
  public let config: MaskFormerConfig
  public let backbone: SwinBackbone
  public let pixelDecoder: PixelDecoder
  public let transformer: TransformerModule
  public let heads: Heads
  /// The pixel decoder's stride-4 level and mask projection with the mask einsum.
  public let maskDecoder: MaskDecoder

  public init(config: MaskFormerConfig, backbone: SwinBackbone, pixelDecoder: PixelDecoder,
              transformer: TransformerModule, heads: Heads) {
    self.config = config
    self.backbone = backbone
    self.pixelDecoder = pixelDecoder
    self.transformer = transformer
    self.heads = heads
    maskDecoder = MaskDecoder(level: pixelDecoder.layers[pixelDecoder.layers.count - 1], index: pixelDecoder.layers.count - 1,
                              maskProjection: pixelDecoder.maskProjection)
    laterals = pixelDecoder.layers.reversed().map { $0.projection.quantized?.input } + [nil]
  }

  /// Per backbone stage, the input parameters of the int8 lateral conv that reads it (nil: read in float).
  private let laterals: [QuantParams?]

  /// Whether the Swin blocks run in int8 (a model file from `convert`), as MemoryPlan needs to know.
  public var isQuantized: Bool { backbone.stages.first?.blocks.first?.intermediate.quantized != nil }

  /// A copy of `pixelValues` in the context's arena, run.
  public func callAsFunction(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> MaskFormerOutput {
    self(pixelValues: ArenaArray(pixelValues, in: ctx.arena), height: height, width: width, in: ctx)
  }

  /// pixelValues: one preprocessed image `[3, H, W]` (NCHW floats, any H and W). Handed over with
  /// `consume`, it is freed once embedded.
  public func callAsFunction(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskFormerOutput {
    ctx.begin("backbone", "stage")
    // Features read by int8 lateral convs come out of the backbone already quantized for them.
    let features = backbone(consume pixelValues, height: height, width: width, quantizeFor: laterals, in: ctx)
    ctx.end("backbone", "stage")
    guard case .float(let top) = features.last else { preconditionFailure("the coarsest feature is read in float") }
    // The pixel decoder owns the features from here and frees each after its FPN level.
    ctx.begin("pixel_decoder", "stage")
    let (down, left) = pixelDecoder.coarseLevels(consume features, in: ctx)
    ctx.end("pixel_decoder", "stage", shape: [down.height, down.width, down.channels])
    ctx.arena?.trim()   // between phases (a single run's arena only): the freed buffers' pages go back
    let queries = ctx.span("transformer", "stage") { transformer(top, in: ctx) }
    // An ArenaArray's storage has a deinit, so a binding lives to the end of its scope unless consumed:
    // the coarsest feature must not stay through the mask decoder.
    _ = consume top
    ctx.arena?.trim()
    let (classes, embeddings) = ctx.span("heads", "stage") { heads(queries, in: ctx) }
    // The stride-4 level last: its maps are the largest, and streamed they go straight into logits.
    ctx.begin("mask_decoder", "stage")
    let masks = maskDecoder(down: consume down, left: consume left, embeddings: embeddings, queries: config.detr.numQueries, in: ctx)
    ctx.end("mask_decoder", "stage", shape: [config.detr.numQueries, masks.height, masks.width])
    ctx.arena?.trim()
    return MaskFormerOutput(classLogits: classes, maskLogits: masks.masks, numQueries: config.detr.numQueries,
                            numClasses: config.numLabels + 1, maskHeight: masks.height, maskWidth: masks.width)
  }
}
