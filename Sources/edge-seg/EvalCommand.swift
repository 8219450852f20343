// `edge-seg eval MODEL_DIR DATASET_DIR`: the float checkpoint and its int8 file side by side against
// a panoptic dataset's ground truth, and the int8 against the float.
import Converter
import EdgeSeg
import Evaluation
import Foundation

func evalCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  var options = EvaluationOptions()
  let threads: Int
  do {
    opts = try OptionParser(args, command: "eval")
    guard opts.positional.count == 2 else { throw UsageError(description: "expected MODEL_DIR DATASET_DIR") }
    threads = try opts.int("--threads", default: defaultThreads(), range: 1...1024)
    if opts.isSet("--limit") { options.limit = try opts.int("--limit", default: 0, range: 1...10_000_000) }
    if let t = opts.value("--threshold") {
      guard let v = Double(t), (0...1).contains(v) else { throw UsageError(description: "--threshold must be in [0, 1], got '\(t)'") }
      options.threshold = v
    }
  } catch {
    return optionFailure(error, command: "eval")
  }
  let modelDir = opts.positional[0], dataDir = opts.positional[1]
  do {
    let checkpoint = try openCheckpoint(directory: modelDir)
    let dataset = try PanopticDataset(directory: dataDir)
    let int8Path = try int8File(for: checkpoint, directory: modelDir, explicit: opts.value("--int8"), threads: threads)
    let file = try ModelFile(path: int8Path)
    guard (checkpoint is Mask2FormerCheckpoint) == file.isMask2Former else {
      throw UsageError(description: "\(int8Path) and \(modelDir) are different model families")
    }
    let ctx = InferenceContext(kernels: KernelTable.best(for: CPUFeatures.detect()), threads: threads)
    var progress = Progress()
    let report = try Evaluator.evaluate([("float32", checkpoint.network), ("int8", try file.network())],
                                        preprocessor: checkpoint.preprocessor, dataset: dataset, options: options,
                                        context: ctx) { progress.update("eval", $0, $1) }
    if opts.isSet("--json") {
      print(evalJSON(report, model: modelDir, int8: int8Path, dataset: dataDir, options: options))
    } else {
      print(evalTable(report, int8: int8Path, dataset: dataDir, options: options))
    }
    return 0
  } catch {
    return report(error, prefix: "eval: ")
  }
}

/// The int8 file to evaluate: --int8, else MODEL_DIR/model.int8.eseg, else a conversion into a
/// temporary file with the default calibration.
func int8File(for checkpoint: any ConvertibleCheckpoint, directory: String, explicit: String?, threads: Int) throws -> String {
  if let explicit { return explicit }
  let bundled = URL(fileURLWithPath: directory).appendingPathComponent("model.int8.eseg").path
  if FileManager.default.fileExists(atPath: bundled) { return bundled }
  var options = ConvertOptions()
  options.threads = threads
  options.calibrationDirectory = defaultCalibrationDirectory(for: directory)
  let out = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-eval-\(getpid()).eseg").path
  var progress = Progress()
  try ModelConverter.convert(checkpoint, options: options, to: out) { progress.update($0, $1, $2) }
  return out
}

/// How eval scored, for its table and JSON.
let evalRules = "COCO panoptic (panopticapi pq_compute): IoU > 0.5 matches, void outside unions, iscrowd regions excused, JSON areas"

func evalTable(_ r: EvaluationReport, int8: String, dataset: String, options o: EvaluationOptions) -> String {
  func f(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
  var lines = ["\(dataset): \(r.images) images; int8 file \(int8)",
               "panoptic post-processing: threshold \(o.threshold), mask threshold \(o.maskThreshold), overlap \(o.overlapMaskAreaThreshold), "
                 + "stuff fused; scoring: \(evalRules)", "",
               "model      PQ      SQ      RQ   PQ_th   PQ_st    mIoU  pixel acc"]
  for (name, s) in r.accuracy {
    lines.append(name.padding(toLength: 8, withPad: " ", startingAt: 0)
                 + [s.pq, s.sq, s.rq, s.pqThings, s.pqStuff, s.mIoU, s.pixelAccuracy].map { f($0).leftPad(8) }.joined())
  }
  if r.accuracy.count > 1 {
    let d = r.drift
    lines += ["", "int8 against float32:",
              "  mask logits   SQNR \(f(d.maskLogits.sqnr, 1)) dB, cosine \(f(d.maskLogits.cosine, 5)), max abs error \(f(d.maskLogits.maxAbsError, 4))",
              "  class logits  SQNR \(f(d.classLogits.sqnr, 1)) dB, cosine \(f(d.classLogits.cosine, 5))",
              "  query class agreement \(f(d.classAgreement)) %, semantic pixel agreement \(f(d.pixelAgreement, 3)) %, mean IoU of matched segments \(f(d.meanMatchedIoU, 4))"]
  }
  return lines.joined(separator: "\n")
}

func evalJSON(_ r: EvaluationReport, model: String, int8: String, dataset: String, options o: EvaluationOptions) -> String {
  var acc: [String: Any] = [:]
  for (name, s) in r.accuracy {
    acc[name] = ["pq": s.pq, "sq": s.sq, "rq": s.rq, "pq_things": s.pqThings, "pq_stuff": s.pqStuff, "miou": s.mIoU,
                 "pixel_accuracy": s.pixelAccuracy]
  }
  let d = r.drift
  let obj: [String: Any] = [
    "model": model, "int8": int8, "dataset": dataset, "images": r.images, "accuracy": acc,
    "options": ["threshold": o.threshold, "mask_threshold": o.maskThreshold, "overlap_mask_area_threshold": o.overlapMaskAreaThreshold,
                "limit": o.limit.map { $0 as Any } ?? NSNull(), "stuff_fused": true, "rules": evalRules],
    "drift": ["mask_logits_sqnr_db": d.maskLogits.sqnr, "mask_logits_cosine": d.maskLogits.cosine,
              "mask_logits_max_abs_error": d.maskLogits.maxAbsError, "class_logits_sqnr_db": d.classLogits.sqnr,
              "class_logits_cosine": d.classLogits.cosine, "query_class_agreement": d.classAgreement,
              "semantic_pixel_agreement": d.pixelAgreement, "matched_segment_miou": d.meanMatchedIoU],
  ]
  let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])) ?? Data()
  return String(decoding: data, as: UTF8.self)
}

extension String {
  func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
