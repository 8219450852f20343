// `edge-seg drift MODEL_FILE --reference MODEL_DIR IMAGES...`: per-layer drift of a quantized model
// against its float checkpoint, in graph order, and the end-to-end drift.
import Converter
import EdgeSeg
import Evaluation
import Foundation

func driftCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  let threads: Int
  do {
    opts = try OptionParser(args, command: "drift")
    guard opts.positional.count >= 2 else { throw UsageError(description: "expected MODEL_FILE and at least one IMAGE") }
    guard opts.value("--reference") != nil else { throw UsageError(description: "--reference MODEL_DIR (the float checkpoint) is required") }
    threads = try opts.int("--threads", default: defaultThreads(), range: 1...1024)
  } catch {
    return optionFailure(error, command: "drift")
  }
  let modelPath = opts.positional[0], referencePath = opts.value("--reference")!
  do {
    let reference = try openCheckpoint(directory: referencePath)
    let file = try ModelFile(path: modelPath)
    guard (reference is Mask2FormerCheckpoint) == file.isMask2Former else {
      throw UsageError(description: "\(modelPath) and --reference \(referencePath) are different model families")
    }
    let quantized = try file.network()
    var inputs: [PixelValues] = []
    for path in opts.positional.dropFirst() {
      inputs.append(ImageProcessor.modelInput(try decodeImage(path), config: reference.preprocessor))
    }
    let int8Layers = Set(file.tensors.filter { $0.dtype == .qgemmI8x4N16 }.map { String($0.name.dropLast(".weight".count)) })
    var progress = Progress()
    let report = LayerDrift.measure(reference: reference.network, quantized: quantized, inputs: inputs,
                                    context: InferenceContext(kernels: .best(for: .detect()), threads: threads)) {
      progress.update("drift", $0, $1)
    }
    print(opts.isSet("--json") ? driftJSON(report, int8Layers: int8Layers) : driftTable(report, int8Layers: int8Layers))
    return 0
  } catch {
    return report(error, prefix: "drift: ")
  }
}

func driftTable(_ r: DriftReport, int8Layers: Set<String>) -> String {
  func f(_ x: Double, _ d: Int) -> String { x.isInfinite ? "inf" : String(format: "%.\(d)f", x) }
  let width = max(30, r.layers.map(\.layer.count).max() ?? 0)
  var lines = ["\(r.images) images; per layer (graph order): output against the float model's same layer",
               "layer".padding(toLength: width, withPad: " ", startingAt: 0) + " prec   SQNR dB    cosine  max abs err  added NSR"]
  for row in r.layers {
    let o = row.output
    lines.append(row.layer.padding(toLength: width, withPad: " ", startingAt: 0) + " " + (int8Layers.contains(row.layer) ? "int8" : "f32 ")
                 + f(o.sqnr, 1).leftPad(10) + f(o.cosine, 5).leftPad(10) + f(o.maxAbsError, 4).leftPad(13)
                 + String(format: "%11.2e", row.addedNoise))
  }
  let d = r.output
  lines += ["", "end to end:",
            "  mask logits SQNR \(f(d.maskLogits.sqnr, 1)) dB, cosine \(f(d.maskLogits.cosine, 5)); class logits SQNR \(f(d.classLogits.sqnr, 1)) dB",
            "  query class agreement \(f(d.classAgreement, 2)) %, semantic pixel agreement \(f(d.pixelAgreement, 3)) %, mean IoU of matched panoptic segments \(f(d.meanMatchedIoU, 4))"]
  return lines.joined(separator: "\n")
}

func driftJSON(_ r: DriftReport, int8Layers: Set<String>) -> String {
  func num(_ x: Double) -> Any { x.isFinite ? x : (x > 0 ? "inf" : "-inf") }
  let layers: [[String: Any]] = r.layers.map { row in
    ["layer": row.layer, "precision": int8Layers.contains(row.layer) ? "int8" : "float32", "sqnr_db": num(row.output.sqnr),
     "cosine": row.output.cosine, "max_abs_error": row.output.maxAbsError, "input_sqnr_db": num(row.input.sqnr),
     "added_nsr": row.addedNoise]
  }
  let d = r.output
  let obj: [String: Any] = [
    "images": r.images, "layers": layers,
    "end_to_end": ["mask_logits_sqnr_db": num(d.maskLogits.sqnr), "mask_logits_cosine": d.maskLogits.cosine,
                   "class_logits_sqnr_db": num(d.classLogits.sqnr), "query_class_agreement": d.classAgreement,
                   "semantic_pixel_agreement": d.pixelAgreement, "matched_segment_miou": d.meanMatchedIoU],
  ]
  let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])) ?? Data()
  return String(decoding: data, as: UTF8.self)
}
