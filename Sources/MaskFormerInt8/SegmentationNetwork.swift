// SegmentationNetwork: what the app-facing pipeline (EdgeSeg.Session) needs of a model family:
// labels, the forward pass to mask-classification logits, its memory plan, and its post-processing.
// MaskFormer conforms here; a second family (Mask2Former) adds its blocks, config and post-processing
// and conforms the same way, so the pipeline and the CLI stay one.

/// What post-processing does after the model: the task and its thresholds.
public struct SegmentationOptions: Sendable, Equatable {
  public var task: Segmentation.Task
  public var threshold: Double
  public var maskThreshold: Double
  public var overlapMaskAreaThreshold: Double
  public var labelIdsToFuse: Set<Int>

  /// transformers' pipeline defaults: panoptic, 0.9 / 0.5 / 0.5, no fusing.
  public static let pipeline = SegmentationOptions(task: .panoptic, threshold: 0.9, maskThreshold: 0.5,
                                                   overlapMaskAreaThreshold: 0.5, labelIdsToFuse: [])
  /// MaskFormerImageProcessor's own defaults: 0.5 / 0.5 / 0.8.
  public static let processor = SegmentationOptions(task: .panoptic, threshold: 0.5, maskThreshold: 0.5,
                                                    overlapMaskAreaThreshold: 0.8, labelIdsToFuse: [])

  public init(task: Segmentation.Task, threshold: Double, maskThreshold: Double, overlapMaskAreaThreshold: Double,
              labelIdsToFuse: Set<Int>) {
    self.task = task
    self.threshold = threshold
    self.maskThreshold = maskThreshold
    self.overlapMaskAreaThreshold = overlapMaskAreaThreshold
    self.labelIdsToFuse = labelIdsToFuse
  }

  /// The pipeline defaults for `task`.
  public static func pipeline(_ task: Segmentation.Task) -> SegmentationOptions {
    var o = SegmentationOptions.pipeline
    o.task = task
    return o
  }
}

public protocol SegmentationNetwork {
  /// `id2label`, by label id.
  var labels: [String] { get }
  /// Whether the network's layers run in int8 (a converted int8 model file).
  var isQuantized: Bool { get }
  /// pixelValues `[3, H, W]` (handed over, freed once embedded) → class and mask logits.
  func logits(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits
  /// The activation memory of one image at these streaming settings.
  func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), tokenChunk: Int, bandRows: Int) -> MemoryPlan
  /// The fastest streaming whose predicted activations fit `budget` bytes, or why none does.
  func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), budget: Int) -> Result<MemoryPlan, MemoryPlanError>
  /// The segmentation at `target` size.
  func postprocess(_ logits: MaskLogits, options: SegmentationOptions, target: (height: Int, width: Int)) -> Segmentation
}

extension MaskFormer: SegmentationNetwork {
  public var labels: [String] { config.labels }

  public func logits(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits {
    MaskLogits(self(pixelValues: pixelValues, height: height, width: width, in: ctx))
  }

  public func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), tokenChunk: Int, bandRows: Int) -> MemoryPlan {
    MemoryPlan.predict(config, input: input, image: image, int8: isQuantized, tokenChunk: tokenChunk, bandRows: bandRows)
  }

  public func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), budget: Int) -> Result<MemoryPlan, MemoryPlanError> {
    MemoryPlan.choose(config, input: input, image: image, int8: isQuantized, budget: budget)
  }

  /// MaskFormerImageProcessor's post-processing for the task (instance: the scores' threshold only).
  public func postprocess(_ logits: MaskLogits, options o: SegmentationOptions, target: (height: Int, width: Int)) -> Segmentation {
    switch o.task {
    case .semantic: .semantic(logits, target: target)
    case .instance: .instance(logits, threshold: o.threshold, target: target)
    case .panoptic:
      .panoptic(logits, threshold: o.threshold, maskThreshold: o.maskThreshold, overlapMaskAreaThreshold: o.overlapMaskAreaThreshold,
                labelIdsToFuse: o.labelIdsToFuse, target: target)
    }
  }
}
