// Mask2Former (issue 21): `Mask2FormerForUniversalSegmentation` composed from its blocks, each declaring
// its own tensors (the `init(_:_:from:)` in its file): backbone, pixel decoder, transformer module (masked-
// attention decoder and heads). Post-processing, int8 and streaming follow.
import Kernels

public struct Mask2Former {
  public let config: Mask2FormerConfig
  public let backbone: Mask2FormerBackbone
  public let pixelDecoder: Mask2FormerPixelDecoder
  public let transformer: Mask2FormerTransformerModule

  public init(config: Mask2FormerConfig, from source: any TensorSource) throws {
    self.config = config
    backbone = try Mask2FormerBackbone(config: config, from: source)
    pixelDecoder = try Mask2FormerPixelDecoder(ModulePath("model.pixel_level_module.decoder"), config, from: source)
    transformer = try Mask2FormerTransformerModule(ModulePath("model.transformer_module"), config, from: source)
  }

  /// pixelValues `[3, H, W]` → class logits `Q × (K+1)` and mask logits `Q × maskHeight·maskWidth` (stride 4).
  public func callAsFunction(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits {
    ctx.begin("pixel_level_module", "stage")
    let (levels, maskFeatures) = pixelLevel(pixelValues: pixelValues, height: height, width: width, in: ctx)
    ctx.end("pixel_level_module", "stage")
    ctx.begin("transformer_module", "stage")
    let (classes, masks) = transformer(levels: consume levels, maskFeatures: maskFeatures, in: ctx)
    ctx.end("transformer_module", "stage")
    return MaskLogits(classLogits: classes, maskLogits: masks, queries: config.numQueries, classes: config.numLabels + 1,
                      height: maskFeatures.height, width: maskFeatures.width)
  }

  /// The same from pixel values on the heap.
  public func callAsFunction(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits {
    self(pixelValues: ArenaArray(pixelValues, in: ctx.arena), height: height, width: width, in: ctx)
  }
}

extension Mask2Former: SegmentationNetwork {
  public var labels: [String] { config.labels }
  public var isQuantized: Bool { backbone.swin.stages.first?.blocks.first?.intermediate.quantized != nil }
  /// The Winograd-transformed weights of the int8 3×3 conv (`layer_1`), made on first use.
  public func kernelHeapBytes(kernels: KernelTable) -> Int {
    let c = pixelDecoder.output.conv
    guard kernels.winograd, c.winograd != nil, c.quantized != nil else { return 0 }
    return Int8WinogradWeights.byteCount(n: c.outChannels, inChannels: c.inChannels)
  }

  public func logits(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits {
    self(pixelValues: pixelValues, height: height, width: width, in: ctx)
  }

  /// Mask2FormerImageProcessor's post-processing: the mask logits resized to 384 × 384 first (all three
  /// tasks), then MaskFormer's code (mask2former-spec.md §6).
  public func postprocess(_ logits: MaskLogits, options: SegmentationOptions, target: (height: Int, width: Int),
                          reusing buffers: PostprocessBuffers) -> Segmentation {
    Self.postprocess(logits, options: options, target: target, reusing: buffers)
  }

  /// The same without a model (target nil: the 384 × 384 maps transformers gives without `target_sizes`).
  public static func postprocess(_ logits: MaskLogits, options: SegmentationOptions, target: (height: Int, width: Int)?,
                                 reusing buffers: PostprocessBuffers = PostprocessBuffers()) -> Segmentation {
    var m = logits
    m.postprocessSize = (postprocessSize, postprocessSize)
    return Segmentation.postprocess(m, options: options, target: target ?? (postprocessSize, postprocessSize), reusing: buffers)
  }

  /// The fixed size Mask2Former's post-processing resizes mask logits to.
  public static let postprocessSize = 384

  public func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), tokenChunk: Int, bandRows: Int,
                         kernels: KernelTable, threads: Int) -> MemoryPlan {
    let s = Self.postprocessSize
    let run = MemoryPlan.dryRun(kernels: kernels, threads: threads, tokenChunk: tokenChunk, bandRows: bandRows,
                                preprocess: { PixelValues.buffer(height: input.height, width: input.width, in: $0) { _ in } },
                                forward: { pixelValues, ctx in self(pixelValues: consume pixelValues, height: input.height, width: input.width, in: ctx) },
                                postprocess: { _, arena in _ = Segmentation.ownerMap(pixels: image.height * image.width, in: arena) })
    let f = 4, imageBytes = 3 * image.height * image.width, outputMap = 4 * image.height * image.width
    let phases = run.phases.map { p in
      let heap = switch p.name {
      case "preprocess": imageBytes + 3 * input.height * input.width * f
      // Mask2Former's instance path keeps one 384 × 384 plane; semantic and panoptic two rows per plane.
      case "postprocess": imageBytes + outputMap + 2 * imageBytes + 2 * (config.numLabels + config.numQueries) * s * f + s * s * f
      default: imageBytes
      }
      return MemoryPlan.Phase(name: p.name, arenaBytes: p.bytes, heapBytes: heap)
    }
    return MemoryPlan(tokenChunk: tokenChunk, bandRows: bandRows, phases: phases, highWater: run.highWater)
  }

  /// pixelValues `[3, H, W]` → the multi-scale maps (strides 32, 16, 8) and the stride-4 mask features.
  /// Stage maps read by int8 convs (the input projections, the stride-4 lateral) come out of the backbone in int8.
  public func pixelLevel(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext)
    -> (levels: [FeatureMap], maskFeatures: MaskFeatures) {
    let readers = [pixelDecoder.lateral.conv] + pixelDecoder.inputProjections.reversed().map(\.conv)
    let features = backbone(pixelValues: pixelValues, height: height, width: width, quantizeFor: readers.map { $0.quantized?.input }, in: ctx)
    return pixelDecoder(features, in: ctx)
  }
}
