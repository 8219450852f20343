// `edge-seg run MODEL_DIR IMAGE`: decode, segment as the transformers pipeline does, write the outputs.
import Converter
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8

func runImage(_ opts: OptionParser, model modelPath: String, image imagePath: String) -> Int32 {
  var options = SegmentationOptions.pipeline
  let threads: Int, maxPixels: Int
  do {
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
    threads = try opts.int("--threads", default: defaultThreads(), range: 1...1024)
    maxPixels = try opts.int("--max-pixels", default: DecodeLimits().maxPixels, range: 1...Int(Int32.max) * 4)
  } catch {
    printError("run: \(error)", hint: "edge-seg help")
    return 64
  }
  guard let kernels = kernelTable(opts, command: "run") else { return 64 }
  let output = opts.value("--output") ?? "edge-seg-output"
  func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
  let t0 = now()
  let baselineKB = ProcessMemory.status()["VmRSS"] ?? 0
  let image: Image
  do {
    guard let data = FileManager.default.contents(atPath: imagePath) else {
      printError("\(imagePath): cannot read file")
      return 66
    }
    image = try ImageDecoder.decode([UInt8](data), limits: DecodeLimits(maxPixels: maxPixels))
  } catch {
    printError("\(imagePath): \(error)")
    return 65
  }
  let tDecode = now()
  do {
    var loaded = try ModelLoader.load(modelPath)
    try loaded.applySize(opts)
    let tLoad = now()
    let segmenter = Segmenter(model: loaded.model, preprocessor: loaded.preprocessor)
    var ctx = InferenceContext(kernels: kernels, threads: threads)
    try applyTiling(opts, to: &ctx)
    ctx.releaseWeightsAfterUse = true   // one forward pass: each weight is read once (see RunCommand)
    let oriented = image.orientedSize
    let plan = try memoryPlan(opts, loaded, image: oriented, baselineKB: baselineKB, weightsReleased: true)
    if let plan {
      ctx.tokenChunk = plan.plan.tokenChunk
      ctx.bandRows = plan.plan.bandRows
    } else if opts.value("--token-chunk") == nil && opts.value("--band-rows") == nil {
      let auto = defaultMemoryPlan(loaded, image: oriented, baselineKB: baselineKB)
      (ctx.tokenChunk, ctx.bandRows) = (auto.tokenChunk, auto.bandRows)
    }
    // One image: freed blocks give their pages back, so that peak RSS follows the live buffers.
    ctx.arena = activationArena(loaded, image: oriented, for: ctx, returnsFreedPages: true)
    if let raw = opts.value("--raw") {
      // Logits only (for drift checks): preprocessing and the model, no post-processing.
      let pv = ImageProcessor.pixelValues(image.oriented().rgb(), config: loaded.preprocessor, in: ctx.arena)
      let out = loaded.model(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
      try SafetensorsWriter.write([
        ("class_queries_logits", [1, out.numQueries, out.numClasses], Array(out.classLogits)),
        ("masks_queries_logits", [1, out.numQueries, out.maskHeight, out.maskWidth], Array(out.maskLogits)),
      ], to: raw)
      return 0
    }
    let result = segmenter.segment(image, options: options, context: ctx, clock: now)
    ctx.arena = nil   // a single image: the activations' pages go back to the OS before the output is written
    let s = result.segmentation
    var timings = ["decode": (tDecode - t0) * 1000, "load": (tLoad - tDecode) * 1000]
    for (step, secs) in result.timings { timings[step] = secs * 1000 }
    timings["total"] = (now() - t0) * 1000
    var segments: [RunReport.SegmentInfo] = []
    for (i, seg) in s.segments.enumerated() {
      let label = seg.labelId < result.labels.count ? result.labels[seg.labelId] : "\(seg.labelId)"
      // Fused duplicates (same id) share the first entry's mask file.
      let first = s.segments.firstIndex { $0.id == seg.id }!
      let firstLabel = s.segments[first].labelId < result.labels.count ? result.labels[s.segments[first].labelId] : ""
      segments.append(.init(id: seg.id, label: label, label_id: seg.labelId, score: seg.score, area: seg.area,
                            bbox: [seg.box.x, seg.box.y, seg.box.width, seg.box.height],
                            mask: OutputWriter.maskName(first + 1, firstLabel)))
      _ = i
    }
    let photo = image.oriented().rgb()
    let report = RunReport(
      image: .init(path: imagePath, width: photo.width, height: photo.height),
      model: .init(path: modelPath, precision: loaded.precision, input_size: [result.inputHeight, result.inputWidth], threads: threads,
                   kernels: "\(kernels.f32GEMM.rawValue)+\(kernels.qs8GEMM.rawValue)"),
      task: options.task.rawValue,
      thresholds: ["threshold": options.threshold, "mask_threshold": options.maskThreshold,
                   "overlap_mask_area_threshold": options.overlapMaskAreaThreshold],
      timings_ms: timings, segments: segments, panoptic_png: s.task == .panoptic ? "panoptic.png" : nil,
      overlay_png: "overlay.png")
    let json = try OutputWriter.write(result: result, photo: photo, report: report, to: output)
    if opts.isSet("--json") { FileHandle.standardOutput.write(json + Data([10])) }
    if let plan {
      let band = plan.plan.bandRows == .max ? "whole maps" : "\(plan.plan.bandRows)-row bands"
      FileHandle.standardError.write("memory: --max-memory \(plan.budget >> 20) MiB: \(plan.plan.tokenChunk)-token chunks, \(band); predicted peak "
                                     + "\((plan.plan.predictedBytes + plan.overhead) >> 20) MiB (\(plan.plan.phase)), measured \((ProcessMemory.status()["VmHWM"] ?? 0) >> 10) MiB\n")
    }
    if opts.isSet("--verbose") || !opts.isSet("--json") {
      FileHandle.standardError.write("\(imagePath): \(s.segments.count) segments (\(options.task.rawValue)) in \(String(format: "%.0f", timings["total"]!)) ms -> \(output)/ (peak RSS \(ProcessMemory.status()["VmHWM"] ?? 0) KiB)\n")
    }
    return 0
  } catch {
    return report(error)
  }
}
