// `edge-seg run MODEL IMAGE`: decode, segment as the transformers pipeline does (EdgeSeg.Session),
// write the outputs. Option parsing and output formatting only.
import Converter
import EdgeSeg
import Foundation
import ProcessStats

/// `--task`, `--threshold`, `--mask-threshold`, `--overlap`, `--fuse` over the pipeline defaults.
func segmentationOptions(_ opts: OptionParser) throws -> SegmentationOptions {
  var options = SegmentationOptions.pipeline
  if let t = opts.value("--task") {
    guard let task = Segmentation.Task(rawValue: t) else { throw UsageError(description: "--task must be panoptic, instance or semantic, got '\(t)'") }
    options.task = task
  }
  func unit(_ flag: String, _ current: Double) throws -> Double {
    guard let v = opts.value(flag) else { return current }
    guard let d = Double(v), (0...1).contains(d) else { throw UsageError(description: "\(flag) must be a number in [0, 1], got '\(v)'") }
    return d
  }
  options.threshold = try unit("--threshold", options.threshold)
  options.maskThreshold = try unit("--mask-threshold", options.maskThreshold)
  options.overlapMaskAreaThreshold = try unit("--overlap", options.overlapMaskAreaThreshold)
  if let f = opts.value("--fuse") {
    let ids = f.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard ids.allSatisfy({ $0 != nil && $0! >= 0 }) else { throw UsageError(description: "--fuse takes label ids like 3,7,12, got '\(f)'") }
    options.labelIdsToFuse = Set(ids.map { $0! })
  }
  return options
}

/// The segmentation options and `--max-pixels` of `run` on image files.
func imageRunOptions(_ opts: OptionParser) throws -> (SegmentationOptions, Int) {
  (try segmentationOptions(opts), try opts.int("--max-pixels", default: DecodeLimits().maxPixels, range: 1...Int(Int32.max) * 4))
}

func runImage(_ opts: OptionParser, model modelPath: String, image imagePath: String) -> Int32 {
  let options: SegmentationOptions, maxPixels: Int
  do {
    (options, maxPixels) = try imageRunOptions(opts)
  } catch {
    return optionFailure(error, command: "run")
  }
  let output = opts.value("--output") ?? "edge-seg-output"
  let start = ContinuousClock.now
  func ms(since t: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - t
    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
  }
  let baseline = ProcessMemory.residentNowKB() * 1024
  do {
    // Under an enforced memory limit (a cgroup's), the plan is checked against it from the image's header
    // before the image is decoded, so a run that cannot fit is refused (exit 64) rather than killed.
    if ProcessMemory.limitBytes != nil, let size = imageHeaderSize(imagePath) {
      let model = try openModel(modelPath, opts)
      _ = try model.session(height: size.height, width: size.width,
                            configuration: try sessionConfiguration(opts, command: "run", singleImage: true, baselineBytes: baseline))
    }
    let image = try decodeImage(imagePath, maxPixels: maxPixels)
    let decodeMs = ms(since: start)
    let loadStart = ContinuousClock.now
    let model = try openModel(modelPath, opts)
    let loadMs = ms(since: loadStart)
    // One image: freed arena pages go back to the OS and each weight's pages are dropped after use.
    let configuration = try sessionConfiguration(opts, command: "run", singleImage: true, baselineBytes: baseline)
    var session: Session? = try model.session(for: image, configuration: configuration)
    if let raw = opts.value("--raw") {
      // Logits only (for drift checks): preprocessing and the model, no post-processing.
      try writeLogits(try session!.logits(image), to: raw)
      return 0
    }
    let result = try session!.segment(image, options: options)
    let plan = session!.plan, predictedPeak = session!.predictedPeakBytes
    session = nil   // a single image: the activations' pages go back to the OS before the output is written
    var timings = ["decode": decodeMs, "load": loadMs]
    for (step, secs) in result.timings { timings[step] = secs * 1000 }
    timings["total"] = ms(since: start)
    let json = try writeOutputs(result, image: image, imagePath: imagePath, modelPath: modelPath, model: model, options: options,
                                configuration: configuration, timings: timings, to: output)
    let s = result.segmentation
    if opts.isSet("--json") { FileHandle.standardOutput.write(json + Data([10])) }
    if case .budget(let budget) = configuration.memory {
      let band = plan.bandRows == .max ? "whole maps" : "\(plan.bandRows)-row bands"
      FileHandle.standardError.write("memory: --max-memory \(budget >> 20) MiB: \(plan.tokenChunk)-token chunks, \(band); predicted peak "
                                     + "\(predictedPeak >> 20) MiB (\(plan.phase)), measured \(ProcessMemory.peakResidentKB() >> 10) MiB\n")
    }
    if opts.isSet("--verbose") || !opts.isSet("--json") {
      FileHandle.standardError.write("\(imagePath): \(s.segments.count) segments (\(options.task.rawValue)) in \(String(format: "%.0f", timings["total"]!)) ms -> \(output)/ (peak RSS \(ProcessMemory.peakResidentKB()) KiB)\n")
    }
    return 0
  } catch {
    return runFailure(error, command: "run", opts)
  }
}

/// An image file's width and height from its header, without decoding it (nil: unreadable or not an image).
func imageHeaderSize(_ path: String) -> (height: Int, width: Int)? {
  guard let data = FileManager.default.contents(atPath: path) else { return nil }
  // A zero pixel limit stops the decoder right after the header, with the size in the error.
  do { _ = try ImageDecoder.decode([UInt8](data), limits: DecodeLimits(maxPixels: 0)) } catch {
    if case .tooLarge(let w, let h, _) = error { return (h, w) }
  }
  return nil
}

/// Writes `result`'s outputs into `dir` (OutputWriter) with its segments.json report; returns that report's bytes.
func writeOutputs(_ result: SegmentationResult, image: Image, imagePath: String, modelPath: String, model: SegmentationModel,
                  options: SegmentationOptions, configuration: SessionConfiguration, timings: [String: Double], to dir: String) throws -> Data {
  let s = result.segmentation
  var segments: [RunReport.SegmentInfo] = []
  for seg in s.segments {
    let label = seg.labelId < result.labels.count ? result.labels[seg.labelId] : "\(seg.labelId)"
    // Fused duplicates (same id) share the first entry's mask file.
    let first = s.segments.firstIndex { $0.id == seg.id }!
    let firstLabel = s.segments[first].labelId < result.labels.count ? result.labels[s.segments[first].labelId] : ""
    segments.append(.init(id: seg.id, label: label, label_id: seg.labelId, score: seg.score, area: seg.area,
                          bbox: [seg.box.x, seg.box.y, seg.box.width, seg.box.height],
                          mask: OutputWriter.maskName(first + 1, firstLabel)))
  }
  let photo = image.orientedRGB()
  let k = configuration.kernels
  let report = RunReport(
    image: .init(path: imagePath, width: photo.width, height: photo.height),
    model: .init(path: modelPath, precision: model.precision.rawValue, input_size: [result.inputHeight, result.inputWidth],
                 threads: configuration.threads, kernels: "\(k.f32GEMM.rawValue)+\(k.qs8GEMM.rawValue)"),
    task: options.task.rawValue,
    thresholds: ["threshold": options.threshold, "mask_threshold": options.maskThreshold,
                 "overlap_mask_area_threshold": options.overlapMaskAreaThreshold],
    timings_ms: timings, segments: segments, panoptic_png: s.task == .panoptic ? "panoptic.png" : nil,
    overlay_png: "overlay.png")
  return try OutputWriter.write(result: result, photo: photo, report: report, to: dir)
}

/// class_queries_logits `[1, Q, K+1]` and masks_queries_logits `[1, Q, h, w]` as safetensors.
func writeLogits(_ out: MaskLogits, to path: String) throws {
  try SafetensorsWriter.write([
    ("class_queries_logits", [1, out.queries, out.classes], Array(out.classLogits)),
    ("masks_queries_logits", [1, out.queries, out.height, out.width], Array(out.maskLogits)),
  ], to: path)
}
