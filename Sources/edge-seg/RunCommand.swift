// `edge-seg run`: the float32 checkpoint path on a preprocessed pixel_values tensor (--raw).
import Converter
import EdgeSeg
import Foundation
import ProcessStats

func defaultThreads() -> Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

/// The demo model that ships with the repository (issue 7): Models/shapes, its int8 file preferred.
enum BundledModel {
  static let relativePath = "Models/shapes/model.int8.eseg"

  /// $EDGE_SEG_MODEL, else Models/shapes/model.int8.eseg under the working directory or the
  /// executable's directory and its ancestors (a `swift run` binary lives in .build/<triple>/release).
  static func locate() -> String? {
    if let env = ProcessInfo.processInfo.environment["EDGE_SEG_MODEL"], !env.isEmpty { return env }
    for root in searchRoots() {
      let path = URL(fileURLWithPath: root).appendingPathComponent(relativePath).path
      if FileManager.default.fileExists(atPath: path) { return path }
    }
    return nil
  }

  static func searchRoots() -> [String] {
    var roots = [FileManager.default.currentDirectoryPath]
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
      roots.append(dir.path)
      dir = dir.deletingLastPathComponent()
    }
    return roots
  }
}

func runCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  do {
    opts = try OptionParser(args, command: "run")
  } catch {
    return optionFailure(error, command: "run")
  }
  if let frames = opts.value("--frames") {
    // Raw frames from standard input: `run [MODEL] --frames WxH -`.
    guard (1...2).contains(opts.positional.count) else {
      printError("run: --frames takes [MODEL] - (frames come from standard input)", hint: "edge-seg run MODEL --frames 640x480 -")
      return 64
    }
    let model = opts.positional.count == 2 ? opts.positional[0] : BundledModel.locate()
    guard let model else {
      printError("run: no MODEL given and the bundled model (\(BundledModel.relativePath)) was not found")
      return 66
    }
    return runFrames(opts, model: model, sizeText: frames, input: opts.positional.last!)
  }
  if opts.positional.count >= 2 {
    // One image file: its outputs straight into --output. More, or a folder: a batch, a folder per image.
    var isDir: ObjCBool = false
    let second = opts.positional[1]
    if opts.positional.count == 2 && !(FileManager.default.fileExists(atPath: second, isDirectory: &isDir) && isDir.boolValue) {
      return runImage(opts, model: opts.positional[0], image: second)
    }
    return runBatch(opts, model: opts.positional[0], inputs: Array(opts.positional.dropFirst()))
  }
  if opts.positional.count == 1 && opts.value("--pixel-values") == nil && opts.value("--raw") == nil {
    // `edge-seg run IMAGE`: the bundled demo model.
    guard let model = BundledModel.locate() else {
      printError("run: no MODEL given and the bundled model (\(BundledModel.relativePath)) was not found in \(BundledModel.searchRoots().joined(separator: ", "))",
                 hint: "edge-seg run MODEL IMAGE, or set EDGE_SEG_MODEL")
      return 66
    }
    return runImage(opts, model: model, image: opts.positional[0])
  }
  guard opts.positional.count == 1 else {
    printError("run: expected [MODEL] IMAGE (or MODEL_DIR --pixel-values IN --raw OUT), got \(opts.positional.count) positional arguments", hint: "edge-seg help run")
    return 64
  }
  guard let input = opts.value("--pixel-values"), let output = opts.value("--raw") else {
    printError("run: give an IMAGE, or --pixel-values IN.safetensors and --raw OUT.safetensors")
    return 64
  }
  let runs: Int, warmup: Int
  do {
    runs = try opts.int("--runs", default: 1, range: 1...1000)
    warmup = try opts.int("--warmup", default: 0, range: 0...100)
  } catch {
    printError("run: \(error)")
    return 64
  }
  let verbose = opts.isSet("--verbose")
  do {
    let memBefore = ProcessMemory.status()
    let t0 = DispatchTime.now()
    let model = try openModel(opts.positional[0], opts)
    let tLoad = DispatchTime.now()
    let memLoaded = ProcessMemory.status()
    let pvFile = try SafetensorsFile(path: input)
    guard let entry = pvFile.entries["pixel_values"] else {
      throw CheckpointError.unreadable(path: input, reason: "no tensor named pixel_values")
    }
    guard entry.shape.count == 4, entry.shape[0] == 1, entry.shape[1] == 3, entry.shape[2] > 0, entry.shape[3] > 0 else {
      throw CheckpointError.unreadable(path: input, reason: "pixel_values has shape \(entry.shape), expected [1, 3, H, W]")
    }
    let pv = try pvFile.tensor("pixel_values")
    let (h, w) = (entry.shape[2], entry.shape[3])
    let pixels = Array(UnsafeBufferPointer(start: pv.pointer, count: pv.count))
    // One session for every pass (repeated passes reuse its arena, as an app would); a single pass
    // returns freed pages and drops each weight's pages after use. The input is the model's already:
    // the session is made for it as an image of that size under an identity preprocessing.
    var configuration = try sessionConfiguration(opts, command: "run", singleImage: runs + warmup == 1)
    if case .automatic = configuration.memory { configuration.memory = .streaming(tokenChunk: 4096, bandRows: .max) }
    var raw = model
    raw.preprocessor.doResize = false
    let session = try raw.session(height: h, width: w, configuration: configuration)
    let clock = StageClock()
    if verbose { session.observer = clock }
    var times: [Double] = []
    var result: MaskLogits?
    func pixelInput() -> PixelValues { PixelValues(height: h, width: w, data: ArenaArray(pixels, in: session.arena)) }
    for _ in 0..<warmup { _ = session.logits(pixelInput()) }
    for _ in 0..<runs {
      let s = DispatchTime.now()
      clock.last = s
      clock.lines = []
      result = session.logits(pixelInput())
      times.append(Double(DispatchTime.now().uptimeNanoseconds - s.uptimeNanoseconds) / 1e9)
    }
    try writeLogits(result!, to: output)
    if opts.isSet("--times-json") {
      // For bench/: forward times and peak RSS, machine-readable, on stdout.
      print("{\"times\": [\(times.map { String($0) }.joined(separator: ", "))], \"vmhwm_kib\": \(ProcessMemory.peakResidentKB())}")
    }
    if verbose {
      let sorted = times.sorted(), k = configuration.kernels
      let load = Double(tLoad.uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
      FileHandle.standardError.write("""
        model: \(opts.positional[0]) (\(model.precision.rawValue), kernels \(k.f32GEMM.rawValue)+\(k.qs8GEMM.rawValue), \(configuration.threads) threads, CPU \(CPUFeatures.detect()))
        input: 1x3x\(h)x\(w); load \(String(format: "%.3f", load)) s
        forward: median \(String(format: "%.4f", sorted[sorted.count / 2])) s, min \(String(format: "%.4f", sorted[0])) s over \(runs) runs
        stages (last run, up to each named output):
        \(clock.lines.joined(separator: "\n"))
        memory: VmHWM \(ProcessMemory.peakResidentKB()) KiB; after load RssAnon +\((memLoaded["RssAnon"] ?? 0) - (memBefore["RssAnon"] ?? 0)) KiB, RssFile \(memLoaded["RssFile"] ?? 0) KiB

        """)
    }
    return 0
  } catch {
    return report(error)
  }
}

/// `--verbose`: the time between consecutive named intermediates (graph order).
final class StageClock: GraphObserver {
  var last = DispatchTime.now()
  var lines: [String] = []
  func tensor(_ name: String, _ view: TensorView, shape: [Int]) {
    let now = DispatchTime.now()
    lines.append("  \(name): \(String(format: "%.1f", Double(now.uptimeNanoseconds - last.uptimeNanoseconds) / 1e6)) ms")
    last = now
  }
}

func compareCommand(_ args: ArraySlice<String>) -> Int32 {
  if args.contains("--help") || args.contains("-h") {
    print(Usage.help("compare"))
    return 0
  }
  guard args.count == 2 else {
    printError("compare: expected ACTUAL.safetensors REFERENCE.safetensors", hint: "edge-seg help")
    return 64
  }
  do {
    let a = try SafetensorsFile(path: args[args.startIndex]), b = try SafetensorsFile(path: args[args.startIndex + 1])
    let names = a.entries.keys.filter { b.entries[$0] != nil }.sorted()
    guard !names.isEmpty else {
      printError("compare: the two files share no tensor names")
      return 65
    }
    for name in names {
      let x = try a.tensor(name), y = try b.tensor(name)
      guard x.shape == y.shape else {
        print("\(name): shapes differ: \(x.shape) vs \(y.shape)")
        continue
      }
      var maxErr: Float = 0, maxRef: Float = 0
      var dot = 0.0, nx = 0.0, ny = 0.0, noise = 0.0
      for i in 0..<x.count {
        maxErr = max(maxErr, abs(x[i] - y[i]))
        maxRef = max(maxRef, abs(y[i]))
        dot += Double(x[i]) * Double(y[i]); nx += Double(x[i]) * Double(x[i]); ny += Double(y[i]) * Double(y[i])
        noise += Double(x[i] - y[i]) * Double(x[i] - y[i])
      }
      let cosine = nx > 0 && ny > 0 ? dot / (nx * ny).squareRoot() : 0
      let sqnr = noise > 0 ? 10 * log10(ny / noise) : Double.infinity
      print("\(name) \(x.shape): max abs error \(maxErr), max |reference| \(maxRef), ratio \(maxRef > 0 ? maxErr / maxRef : maxErr), cosine \(String(format: "%.6f", cosine)), SQNR \(String(format: "%.1f", sqnr)) dB")
    }
    return 0
  } catch {
    printError("compare: \(error)")
    return 65
  }
}
