// Session: a model prepared for one image size: the memory plan (the streaming it runs with, chosen
// under a byte budget or by policy), the arena sized from it, and the execution context. It segments
// image after image of that size; the second image allocates no activation memory.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ProcessStats

/// How a session bounds its memory.
public enum MemoryPolicy: Sendable, Equatable {
  /// Bounded by default: whole maps while the process is predicted to stay within
  /// `automaticWholeMapBytes` (or half the machine's physical memory, if less); beyond that, the
  /// fastest streaming predicted to fit `automaticBytes` (or, where none does, the fastest predicted within
  /// `MemoryPlan.nearLeanest` of the leanest). MaskFormer streams only where that was measured to cost
  /// nothing; Mask2Former streams from 2048x2048 (half the memory for ~15-19 % more time: its keys and values
  /// made head by head, its mask features projected per prediction). BENCHMARKS.md has the cost curves.
  case automatic
  /// The process's peak resident memory must stay within `bytes` (program, weights and activations):
  /// the fastest streaming predicted to fit, or `SessionError.budget`.
  case budget(bytes: Int)
  /// Streaming set by hand: Swin blocks on at most `tokenChunk` tokens, the stride-4 level in bands of
  /// `bandRows` rows (`Int.max`: whole maps).
  case streaming(tokenChunk: Int, bandRows: Int)
}

extension MemoryPolicy {
  /// `.automatic` keeps whole maps up to this predicted process peak (384 MiB). Measured on
  /// swin-tiny-ade int8, 2 threads (`bench/default_policy.py`): streaming to 256 MiB costs 8-12 % at
  /// 1536x1536 (392 MiB whole then), where the banded stride-4 level recomputes its convs for the GroupNorm
  /// statistics, and nothing at 2048x2048 (651 MiB whole then: the streamed run was 4 % faster). Since the
  /// mask einsum stopped packing the pixel map (session 9) a whole 2048x2048 run peaks at ~410 MB, under
  /// the 512 MiB this was: 384 keeps 2048x2048 streamed by default (under 256 MB) and 1536x1536 whole.
  public static let automaticWholeMapBytes = 384 << 20
  /// Beyond it, `.automatic` streams to fit this (240 MiB for the whole process: under 256 MB with
  /// the prediction's margin; a 256 MiB target measured 251 MiB = 263 MB at 2048x2048, 2026-12-02).
  public static let automaticBytes = 240 << 20
}

public struct SessionConfiguration: Sendable {
  public var threads: Int
  public var kernels: KernelTable
  public var memory: MemoryPolicy
  /// One image in this process (`edge-seg run`): the arena gives freed pages back to the OS and each
  /// weight's pages are dropped after use, so that peak RSS follows the live buffers. Off for image
  /// after image (apps, `profile`), where pages are kept and reused.
  public var singleImage: Bool
  /// Resident memory of the program before the model and image, bytes, for `.budget` (default: as
  /// measured when the model began to open).
  public var baselineBytes: Int?
  /// A memory limit the kernel enforces on the process (default: its cgroup's, `ProcessMemory.limitBytes`;
  /// nil: none): every plan must be predicted to fit it, else the session is refused (`SessionError.memoryLimit`).
  public var memoryLimitBytes: Int? = ProcessMemory.limitBytes

  public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, kernels: KernelTable = .best(for: .detect()),
              memory: MemoryPolicy = .automatic, singleImage: Bool = false, baselineBytes: Int? = nil) {
    self.threads = Swift.max(1, threads)
    self.kernels = kernels
    self.memory = memory
    self.singleImage = singleImage
    self.baselineBytes = baselineBytes
  }
}

public enum SessionError: Error, Sendable, CustomStringConvertible {
  /// `.budget` cannot be met for this image: the leanest plan and what the program and weights take.
  case budget(budget: Int, image: (height: Int, width: Int), input: (height: Int, width: Int), leanest: MemoryPlan, overhead: Int)
  /// The process's enforced memory limit (`SessionConfiguration.memoryLimitBytes`: a cgroup's) is below
  /// the leanest plan: refused before anything runs.
  case memoryLimit(limit: Int, image: (height: Int, width: Int), input: (height: Int, width: Int), leanest: MemoryPlan, overhead: Int)
  /// `segment` was given an image of another size than the session's.
  case imageSize(expected: (height: Int, width: Int), got: (height: Int, width: Int))

  public var description: String {
    switch self {
    case .budget(let budget, _, _, _, _): "a memory budget of \(budget >> 20) MiB cannot be met " + detail
    case .memoryLimit(let limit, _, _, _, _): "this process's memory limit (its cgroup's) of \(limit >> 20) MiB cannot be met " + detail
    case .imageSize(let e, let g): "the session was prepared for \(e.width)x\(e.height) images, got \(g.width)x\(g.height)"
    }
  }

  /// For `.budget`: the image, the model input and what they need at the least.
  public var detail: String {
    switch self {
    case .budget(_, let image, let input, let leanest, let overhead), .memoryLimit(_, let image, let input, let leanest, let overhead):
      "for a \(image.width)x\(image.height) image (model input \(input.width)x\(input.height)): "
        + "\(leanest.predictedBytes >> 20) MiB of activations at the least (peak in \(leanest.phase)) on top of \(overhead >> 20) MiB for the program and weights"
    case .imageSize: ""
    }
  }
}

/// What `Session.segment` returns.
public struct SegmentationResult: Sendable {
  /// At the oriented image's size (EXIF orientation applied).
  public var segmentation: Segmentation
  /// Label of each segment's `labelId`, from the model's id2label.
  public var labels: [String]
  /// Seconds per step, measured inside: "preprocess", "model", "postprocess".
  public var timings: [(step: String, seconds: Double)] {
    [("preprocess", stepSeconds.preprocess), ("model", stepSeconds.model), ("postprocess", stepSeconds.postprocess)]
  }
  /// The same as values (no array is made per image).
  public var stepSeconds: (preprocess: Double, model: Double, postprocess: Double)
  /// The preprocessed input size.
  public var inputHeight: Int
  public var inputWidth: Int

  public var segments: [Segment] { segmentation.segments }
  /// Segment id of each pixel (`y · width + x`); -1: no segment.
  public var segmentMap: [Int32] { segmentation.map }
  /// Label id of each pixel (semantic: the class; instance, panoptic: the segment's class); -1: none.
  public var labelMap: [Int32] {
    let label = Dictionary(segmentation.segments.map { (Int32($0.id), Int32($0.labelId)) }, uniquingKeysWith: { a, _ in a })
    return segmentation.map.map { label[$0] ?? -1 }
  }
}

public final class Session: @unchecked Sendable {  // one thread at a time: a session owns its arena
  public let model: SegmentationModel
  /// The (oriented) image size this session segments, and the model input it becomes.
  public let imageSize: (height: Int, width: Int)
  public let inputSize: (height: Int, width: Int)
  /// The streaming the session runs with and its predicted activation peak.
  public let plan: MemoryPlan
  /// What the program and weights take besides the plan's activations (counted against `.budget`).
  public let overheadBytes: Int
  /// The process's predicted peak resident memory for one image: the plan's activations and the overhead.
  public var predictedPeakBytes: Int { plan.predictedBytes + overheadBytes }
  public let arena: Arena
  /// The preprocessing's resize coefficients for this image size (made once, not per image).
  private let resize: PillowResize.Plan
  /// The resize's and post-processing's arrays, reused image after image.
  private let resizeBuffers = PillowResize.Buffers()
  private let postprocessBuffers = PostprocessBuffers()
  public let configuration: SessionConfiguration
  /// Sees every op of the forward pass (profiler, drift); never changes what is computed.
  public var observer: (any GraphObserver)?

  init(model: SegmentationModel, imageSize: (height: Int, width: Int), configuration c: SessionConfiguration) throws(SessionError) {
    self.model = model
    self.imageSize = imageSize
    configuration = c
    let input = ImageProcessor.outputSize(height: imageSize.height, width: imageSize.width, config: model.preprocessor)
    inputSize = input
    resize = PillowResize.Plan(from: imageSize, to: input)
    let baseline = c.baselineBytes ?? model.baselineBytes
    // A single image drops each weight's pages after use: about one layer's weights are resident.
    let weights = model.heapWeightBytes + (c.singleImage ? Swift.min(model.mappedWeightBytes, 8 << 20) : model.mappedWeightBytes)
    overheadBytes = baseline + weights + model.network.kernelHeapBytes(kernels: c.kernels)
    // A memory limit the kernel enforces (a cgroup's) bounds every policy: a plan predicted to exceed it is
    // refused here, up front, rather than killed by the kernel halfway.
    let limit = c.memoryLimitBytes
    var memory = c.memory
    if let limit {
      switch memory {
      case .budget(let bytes) where bytes > limit: memory = .budget(bytes: limit)
      case .streaming(let chunk, let band):
        let p = model.network.memoryPlan(input: input, image: imageSize, tokenChunk: chunk, bandRows: band, kernels: c.kernels, threads: c.threads)
        if p.predictedBytes + overheadBytes > limit { memory = .budget(bytes: limit) }
      default: break
      }
    }
    switch memory {
    case .streaming(let chunk, let band):
      plan = model.network.memoryPlan(input: input, image: imageSize, tokenChunk: chunk, bandRows: band, kernels: c.kernels, threads: c.threads)
    case .budget(let bytes):
      switch model.network.memoryPlan(input: input, image: imageSize, budget: bytes - overheadBytes, kernels: c.kernels,
                                                 threads: c.threads) {
      case .success(let p): plan = p
      case .failure(let e):
        if let limit, bytes == limit {
          throw .memoryLimit(limit: limit, image: imageSize, input: input, leanest: e.leanest, overhead: overheadBytes)
        }
        throw .budget(budget: bytes, image: imageSize, input: input, leanest: e.leanest, overhead: overheadBytes)
      }
    case .automatic:
      let half = Swift.min(ProcessMemory.physicalBytes / 2, limit ?? .max), first = MemoryPlan.candidates[0]
      let whole = model.network.memoryPlan(input: input, image: imageSize, tokenChunk: first.tokenChunk, bandRows: first.bandRows,
                                           kernels: c.kernels, threads: c.threads)
      if whole.predictedBytes + overheadBytes <= Swift.min(MemoryPolicy.automaticWholeMapBytes, half) {
        plan = whole
      } else {
        // The whole-map candidate's dry run is done already: reused, not run again.
        let budget = Swift.min(MemoryPolicy.automaticBytes, half) - overheadBytes
        let chosen = MemoryPlan.choose(budget: budget) { chunk, band in
          chunk == first.tokenChunk && band == first.bandRows ? whole
            : model.network.memoryPlan(input: input, image: imageSize, tokenChunk: chunk, bandRows: band, kernels: c.kernels, threads: c.threads)
        }
        switch chosen {
        case .success(let p): plan = p
        case .failure(let e):
          if let limit, e.leanest.predictedBytes + overheadBytes > limit {
            throw .memoryLimit(limit: limit, image: imageSize, input: input, leanest: e.leanest, overhead: overheadBytes)
          }
          plan = e.nearLeanest
        }
      }
    }
    arena = Arena(capacity: plan.arenaBytes, returnsFreedPages: c.singleImage)
  }

  /// The context a forward pass of this session runs with.
  public var context: InferenceContext {
    var ctx = InferenceContext(kernels: configuration.kernels, threads: configuration.threads)
    ctx.tokenChunk = plan.tokenChunk
    ctx.bandRows = plan.bandRows
    ctx.arena = arena
    ctx.releaseWeightsAfterUse = configuration.singleImage
    ctx.observer = observer
    return ctx
  }

  /// Segments `image` (any layout, EXIF orientation applied here) as transformers'
  /// `pipeline("image-segmentation")` does with `options`.
  public func segment(_ image: Image, options: SegmentationOptions = .pipeline) throws(SessionError) -> SegmentationResult {
    let size = image.orientedSize
    guard size == imageSize else { throw .imageSize(expected: imageSize, got: size) }
    // The pipeline's steps are stages for an observer (the profiler's preprocess / model / postprocess).
    func step(_ name: String) { observer?.begin(OpInfo(name: name, kind: "stage"), input: nil) }
    func done(_ name: String, _ shape: @autoclosure () -> [Int]) { observer?.end(OpInfo(name: name, kind: "stage"), output: nil, shape: shape()) }
    var clock = Stopwatch()
    step("preprocess")
    let pv = ImageProcessor.modelInput(image, config: model.preprocessor, resize: resize, reusing: resizeBuffers, in: arena)
    done("preprocess", [3, pv.height, pv.width])
    let preprocess = clock.lap()
    step("model")
    let logits = self.logits(consume pv)
    done("model", [])
    let forward = clock.lap()
    step("postprocess")
    let seg = model.network.postprocess(logits, options: options, target: size, reusing: postprocessBuffers)
    done("postprocess", [seg.height, seg.width])
    let post = clock.lap()
    return SegmentationResult(segmentation: seg, labels: model.labels,
                              stepSeconds: (preprocess, forward, post),
                              inputHeight: inputSize.height, inputWidth: inputSize.width)
  }

  /// The model's logits for `image` (preprocessed as `segment` does), no post-processing.
  public func logits(_ image: Image) throws(SessionError) -> MaskLogits {
    let size = image.orientedSize
    guard size == imageSize else { throw .imageSize(expected: imageSize, got: size) }
    return logits(ImageProcessor.modelInput(image, config: model.preprocessor, resize: resize, reusing: resizeBuffers, in: arena))
  }

  /// The model's logits for preprocessed `pixel_values` (handed over: freed once embedded).
  public func logits(_ pixelValues: consuming PixelValues) -> MaskLogits {
    let (height, width, data) = (pixelValues.height, pixelValues.width, pixelValues.data)
    _ = consume pixelValues
    defer { parallelRest() }   // post-processing and whatever the app does next run on one thread
    return model.network.logits(pixelValues: consume data, height: height, width: width, in: context)
  }

  /// Drops the arena's free pages (a single image, between the forward pass and writing outputs).
  public func releaseMemory() { arena.trim() }
}

/// Monotonic seconds between laps.
struct Stopwatch {
  var last = ContinuousClock.now
  mutating func lap() -> Double {
    let now = ContinuousClock.now
    defer { last = now }
    let d = now - last
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
  }
}
