// Segmenter: the library entry point a phone or server app calls: an image in memory in, segments out,
// exactly as transformers' pipeline("image-segmentation") computes them (pre-processing, model,
// post-processing), with per-step timings.
import ImageCodecs
import Kernels

/// What `Segmenter.segment` does after the model: the task and its thresholds.
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
}

public struct SegmentationResult: Sendable {
  /// At the oriented image's size (EXIF orientation applied).
  public var segmentation: Segmentation
  /// Label of each segment's `labelId`, from the model's id2label.
  public var labels: [String]
  /// Seconds per step: "preprocess", "model", "postprocess".
  public var timings: [(step: String, seconds: Double)]
  /// The preprocessed input size.
  public var inputHeight: Int
  public var inputWidth: Int
}

public struct Segmenter {
  public let model: MaskFormer
  public let preprocessor: PreprocessorConfig

  public init(model: MaskFormer, preprocessor: PreprocessorConfig) {
    self.model = model
    self.preprocessor = preprocessor
  }

  /// An arena for images of `size` (oriented: `Image.orientedSize`) under `context`'s streaming
  /// settings, as MemoryPlan sizes it; the OS commits its pages only when they are first written. Kept
  /// in the context for image after image of that size, it is reused: nothing is allocated again.
  /// `returnsFreedPages` for a single image under a memory budget (`Arena.returnsFreedPages`).
  public func arena(forImage size: (height: Int, width: Int), context: InferenceContext, returnsFreedPages: Bool = false) -> Arena {
    let input = ImageProcessor.outputSize(height: size.height, width: size.width, config: preprocessor)
    let plan = MemoryPlan.predict(model.config, input: input, image: size, int8: model.isQuantized,
                                  tokenChunk: context.tokenChunk, bandRows: context.bandRows)
    return Arena(capacity: plan.arenaBytes, returnsFreedPages: returnsFreedPages)
  }

  /// Segments a decoded image (any layout; EXIF orientation applied here).
  public func segment(_ image: Image, options: SegmentationOptions = .pipeline, context: InferenceContext,
                      clock: () -> Double) -> SegmentationResult {
    var timings: [(String, Double)] = []
    var t = clock()
    func lap(_ step: String) {
      let now = clock()
      timings.append((step, now - t))
      t = now
    }
    let rgb = image.oriented().rgb()
    let pv = ImageProcessor.pixelValues(rgb, config: preprocessor, in: context.arena)
    lap("preprocess")
    // The model gets the only reference and frees the image once embedded.
    let (height, width, pixels) = (pv.height, pv.width, pv.data)
    _ = consume pv
    let out = model(pixelValues: consume pixels, height: height, width: width, in: context)
    lap("model")
    let logits = MaskLogits(out)
    let target = (height: rgb.height, width: rgb.width)
    let seg: Segmentation
    switch options.task {
    case .semantic: seg = .semantic(logits, target: target)
    case .instance: seg = .instance(logits, threshold: options.threshold, target: target)
    case .panoptic:
      seg = .panoptic(logits, threshold: options.threshold, maskThreshold: options.maskThreshold,
                      overlapMaskAreaThreshold: options.overlapMaskAreaThreshold,
                      labelIdsToFuse: options.labelIdsToFuse, target: target)
    }
    lap("postprocess")
    return SegmentationResult(segmentation: seg, labels: model.config.labels, timings: timings,
                              inputHeight: height, inputWidth: width)
  }
}
