// `edge-seg convert` and `edge-seg verify`.
import Converter
import EdgeSeg
import Foundation
import ProcessStats
import Quant
import Tuning

/// A progress bar on a terminal, plain lines otherwise (logs, CI).
struct Progress {
  let tty = isatty(2) != 0
  var lastStage = ""
  var lastLine = DispatchTime.now()

  mutating func update(_ stage: String, _ done: Int, _ total: Int) {
    if tty {
      let width = 30, filled = total > 0 ? done * width / total : width
      FileHandle.standardError.write("\r\(stage.padding(toLength: 10, withPad: " ", startingAt: 0)) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)")
      if done == total { FileHandle.standardError.write("\n") }
    } else if stage != lastStage || done == total
                || DispatchTime.now().uptimeNanoseconds - lastLine.uptimeNanoseconds > 2_000_000_000 {
      FileHandle.standardError.write("\(stage): \(done)/\(total)\n")
      lastLine = DispatchTime.now()
    }
    lastStage = stage
  }
}

func convertCommand(_ args: ArraySlice<String>) -> Int32 {
  var options = ConvertOptions()
  var maxDrift: Double?
  let model: String, output: String
  do {
    // --keep-float may repeat: collect its values before the general parser.
    var rest: [String] = []
    var i = args.startIndex
    while i < args.endIndex {
      if args[i] == "--keep-float" {
        guard i + 1 < args.endIndex else { throw UsageError(description: "--keep-float needs a pattern") }
        options.keepFloat.append(args[i + 1])
        i += 2
      } else if args[i].hasPrefix("--keep-float=") {
        options.keepFloat.append(String(args[i].dropFirst("--keep-float=".count)))
        i += 1
      } else {
        rest.append(args[i] == "-o" ? "--output" : args[i])
        i += 1
      }
    }
    let opts = try OptionParser(rest[...], command: "convert")
    guard opts.positional.count == 1 else { throw UsageError(description: "expected one MODEL_DIR") }
    model = opts.positional[0]
    guard let out = opts.value("--output") else { throw UsageError(description: "-o MODEL_FILE is required") }
    output = out
    if let p = opts.value("--precision") {
      guard let v = Precision(rawValue: p) else { throw UsageError(description: "--precision must be int8, float16 or float32") }
      options.precision = v
    }
    if let m = opts.value("--method") {
      guard let v = CalibrationMethod(rawValue: m) else { throw UsageError(description: "--method must be minmax, percentile, entropy or mse") }
      options.method = v
    }
    options.samples = try opts.int("--samples", default: 8, range: 1...100_000)
    if let isa = opts.value("--isa") {
      guard let k = KernelTable.named(isa, features: .detect()) else { throw UsageError(description: "--isa \(isa) is unknown or not supported by this CPU") }
      options.kernels = k
    }
    if let d = opts.value("--max-drift") {
      guard let v = Double(d), v >= 0, v <= 100 else { throw UsageError(description: "--max-drift is a percentage of pixels in [0, 100], got '\(d)'") }
      maxDrift = v
    }
    options.threads = try opts.int("--threads", default: defaultThreads(), range: 1...1024)
    options.calibrationDirectory = opts.value("--calibration") ?? defaultCalibrationDirectory(for: model)
  } catch {
    return optionFailure(error, command: "convert")
  }
  var progress = Progress()
  let t0 = DispatchTime.now()
  do {
    let opened = try openCheckpoint(directory: model)
    if let budget = maxDrift {
      guard options.precision == .int8 else { throw UsageError(description: "--max-drift applies to --precision int8") }
      let steps = try DriftSearch.convert(opened, options: options, maxDrift: budget, to: output) { progress.update($0, $1, $2) }
      for (i, s) in steps.enumerated() {
        FileHandle.standardError.write("drift round \(i + 1): \(s.keptFloat.count) extra float layers, semantic pixel disagreement \(String(format: "%.3f", s.pixelDisagreement)) % (budget \(budget) %), mask-logit SQNR \(String(format: "%.1f", s.maskLogitSQNR)) dB\n")
      }
      if let last = steps.last, !last.keptFloat.isEmpty {
        FileHandle.standardError.write("kept float: \(last.keptFloat.joined(separator: ", "))\n")
      }
    } else {
      try ModelConverter.convert(opened, options: options, to: output) { progress.update($0, $1, $2) }
    }
    let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
    let secs = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    FileHandle.standardError.write("\(output): \(options.precision.rawValue), \(String(format: "%.1f", Double(size) / 1e6)) MB in \(String(format: "%.1f", secs)) s, VmHWM \(ProcessMemory.peakResidentKB()) KiB\n")
    return 0
  } catch {
    return report(error, prefix: "convert: ")
  }
}

/// The checkpoint's own calibration/ folder if it has one, else ./Calibration.
func defaultCalibrationDirectory(for model: String) -> String? {
  let own = URL(fileURLWithPath: model).appendingPathComponent("calibration").path
  for dir in [own, "Calibration"] where FileManager.default.fileExists(atPath: dir) { return dir }
  return nil
}

func verifyCommand(_ args: ArraySlice<String>) -> Int32 {
  if args.contains("--help") || args.contains("-h") {
    print(Usage.help("verify"))
    return 0
  }
  guard args.count == 1, let path = args.first else {
    printError("verify: expected one MODEL_FILE")
    return 64
  }
  do {
    let file = try ModelFile(path: path)
    _ = try file.network()   // every tensor present with the shape the stored configuration implies, either family
    try file.verify()
    let int8 = file.tensors.filter { $0.dtype == .qgemmI8x4N16 }.count
    let precision: String
    if case .string(let p) = file.value("quant.precision") { precision = p } else { precision = "?" }
    print("\(path): ok: format \(ModelFileFormat.version), \(precision), \(file.tensors.count) tensors (\(int8) int8 GEMM weights), \(file.metadata.count) metadata records, shapes match the configuration, checksums verified")
    return 0
  } catch {
    return report(error)
  }
}
