// SegmentationNetwork: what the app-facing pipeline (EdgeSeg.Session) needs of a model family:
// labels, the forward pass to mask-classification logits, its memory plan, and its post-processing.
// MaskFormer conforms here; a second family (Mask2Former) adds its blocks, config and post-processing
// and conforms the same way, so the pipeline and the CLI stay one.

import Kernels

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
  /// The activation memory of one image at these streaming settings, run with these kernels and
  /// threads (their scratch buffers count): a dry run of the forward pass (`MemoryPlan.dryRun`).
  func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), tokenChunk: Int, bandRows: Int,
                  kernels: KernelTable, threads: Int) -> MemoryPlan
  /// Heap bytes the kernels keep with the layers beside the weights (Winograd-transformed conv weights, made
  /// on first use), at most: part of a session's overhead.
  func kernelHeapBytes(kernels: KernelTable) -> Int
  /// The segmentation at `target` size, worked out in `buffers` (reused from image to image by a session).
  func postprocess(_ logits: MaskLogits, options: SegmentationOptions, target: (height: Int, width: Int),
                   reusing buffers: PostprocessBuffers) -> Segmentation
}

extension SegmentationNetwork {
  /// The segmentation at `target` size.
  public func postprocess(_ logits: MaskLogits, options: SegmentationOptions, target: (height: Int, width: Int)) -> Segmentation {
    postprocess(logits, options: options, target: target, reusing: PostprocessBuffers())
  }

  /// The fastest streaming candidate whose predicted activations fit `budget` bytes, or why none does.
  public func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), budget: Int, kernels: KernelTable,
                         threads: Int) -> Result<MemoryPlan, MemoryPlanError> {
    MemoryPlan.choose(budget: budget) {
      memoryPlan(input: input, image: image, tokenChunk: $0, bandRows: $1, kernels: kernels, threads: threads)
    }
  }
}

extension MaskFormer: SegmentationNetwork {
  public func kernelHeapBytes(kernels: KernelTable) -> Int {
    guard kernels.winograd else { return 0 }
    let d = pixelDecoder
    let convs = [d.stem.conv, d.maskProjection] + d.layers.map(\.block.conv)
    return convs.filter { $0.winograd != nil && $0.quantized != nil }
      .reduce(0) { $0 + Int8WinogradWeights.byteCount(n: $1.outChannels, inChannels: $1.inChannels) }
  }

  public var labels: [String] { config.labels }

  public func logits(pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> MaskLogits {
    MaskLogits(self(pixelValues: pixelValues, height: height, width: width, in: ctx))
  }

  public func memoryPlan(input: (height: Int, width: Int), image: (height: Int, width: Int), tokenChunk: Int, bandRows: Int,
                         kernels: KernelTable, threads: Int) -> MemoryPlan {
    let run = MemoryPlan.dryRun(kernels: kernels, threads: threads, tokenChunk: tokenChunk, bandRows: bandRows,
                                preprocess: { PixelValues.buffer(height: input.height, width: input.width, in: $0) { _ in } },
                                forward: { pixelValues, ctx in self(pixelValues: consume pixelValues, height: input.height, width: input.width, in: ctx) },
                                postprocess: { _, arena in _ = Segmentation.ownerMap(pixels: image.height * image.width, in: arena) })
    // On the heap: the decoded image throughout; its oriented and resized copies while preprocessing;
    // the output map, the overlay and the per-row mask caches while post-processing.
    let f = 4, imageBytes = 3 * image.height * image.width, outputMap = 4 * image.height * image.width
    let maskWidth = (input.width + config.swin.patchSize - 1) / config.swin.patchSize
    let phases = run.phases.map { p in
      let heap = switch p.name {
      case "preprocess": imageBytes + 3 * input.height * input.width * f
      case "postprocess": imageBytes + outputMap + 2 * imageBytes + 2 * (config.numLabels + config.detr.numQueries) * maskWidth * f
      default: imageBytes
      }
      return MemoryPlan.Phase(name: p.name, arenaBytes: p.bytes, heapBytes: heap)
    }
    return MemoryPlan(tokenChunk: tokenChunk, bandRows: bandRows, phases: phases, highWater: run.highWater)
  }

  /// MaskFormerImageProcessor's post-processing for the task (instance: the scores' threshold only).
  public func postprocess(_ logits: MaskLogits, options o: SegmentationOptions, target: (height: Int, width: Int),
                          reusing buffers: PostprocessBuffers) -> Segmentation {
    Segmentation.postprocess(logits, options: o, target: target, reusing: buffers)
  }
}
