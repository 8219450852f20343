// `edge-seg run MODEL IMAGE... | DIR...`: many images in one process. The model is opened once, one
// session per image size is reused image after image (EdgeSeg.SessionCache), each image's outputs go to
// a folder of its own under --output, named after it. A bad image is reported and skipped; the exit code
// is then that of the first failure. On a terminal a progress bar, otherwise a line per image; a summary
// at the end (images, images/s, latency median and p95, peak RSS); --json: one JSON line per image.
import Converter
import EdgeSeg
import Foundation
import ProcessStats

/// Image files by extension (what `decodeImage` reads), for folders given to `run`.
let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "ppm", "pgm", "pnm"]

/// The images named by `inputs`: files as given, folders as their image files (by extension, sorted by
/// name, not recursive). A missing input is returned as a failure (exit 66) in its place.
func expandImageInputs(_ inputs: [String]) -> [(path: String, missing: Bool)] {
  var out: [(String, Bool)] = []
  let fm = FileManager.default
  for input in inputs {
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: input, isDirectory: &isDir) else { out.append((input, true)); continue }
    if isDir.boolValue {
      let names = ((try? fm.contentsOfDirectory(atPath: input)) ?? []).filter {
        imageExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) && !$0.hasPrefix(".")
      }.sorted()
      let dir = input.hasSuffix("/") ? String(input.dropLast()) : input
      for n in names { out.append((dir + "/" + n, false)) }
    } else {
      out.append((input, false))
    }
  }
  return out
}

/// Output folder names for `paths`: each file's name without its extension, made unique in order
/// (a second `a` becomes `a-2`).
func batchOutputNames(_ paths: [String]) -> [String] {
  var used: [String: Int] = [:]
  return paths.map { p in
    var stem = URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent
    if stem.isEmpty || stem == "." || stem == ".." { stem = "image" }
    let n = (used[stem] ?? 0) + 1
    used[stem] = n
    return n == 1 ? stem : "\(stem)-\(n)"
  }
}

func runBatch(_ opts: OptionParser, model modelPath: String, inputs: [String]) -> Int32 {
  let options: SegmentationOptions, maxPixels: Int
  do {
    (options, maxPixels) = try imageRunOptions(opts)
  } catch {
    return optionFailure(error, command: "run")
  }
  if opts.value("--raw") != nil {
    printError("run: --raw takes one image", hint: "edge-seg run MODEL IMAGE --raw OUT.safetensors")
    return 64
  }
  let root = opts.value("--output") ?? "edge-seg-output"
  let images = expandImageInputs(inputs)
  guard !images.isEmpty else {
    printError("run: no image files (\(imageExtensions.sorted().joined(separator: ", "))) in \(inputs.joined(separator: ", "))")
    return 66
  }
  let names = batchOutputNames(images.map(\.path))
  let cache: SessionCache, model: SegmentationModel, configuration: SessionConfiguration
  do {
    let baseline = ProcessMemory.residentNowKB() * 1024
    model = try openModel(modelPath, opts)
    configuration = try sessionConfiguration(opts, command: "run", singleImage: false, baselineBytes: baseline)
    cache = SessionCache(model: model, configuration: configuration)
  } catch {
    return runFailure(error, command: "run", opts)
  }
  do {
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  } catch {
    return report(WriteError(path: root, error))
  }
  let json = opts.isSet("--json"), progress = isatty(2) == 1 && !opts.isSet("--verbose")
  let start = ContinuousClock.now
  @Sendable func ms(since t: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - t
    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
  }
  // Each image's outputs are written on a writer thread while the next image is decoded and segmented
  // (at most 2 waiting: memory stays bounded); every message, JSON line and progress update comes from
  // that thread, so they stay in image order.
  let tally = BatchTally(), writer = DispatchQueue(label: "edge-seg.batch.writer"), slots = DispatchSemaphore(value: 2)
  let configurationUsed = cache.configuration
  @Sendable func finished(_ i: Int, failure: Int32?) {
    tally.lock.withLock { if let failure { tally.failures.append((i, failure)) } }
    if progress {
      let failed = tally.lock.withLock { tally.failures.count }
      FileHandle.standardError.write(progressLine(done: i + 1, of: images.count, failed: failed, seconds: ms(since: start) / 1000))
    }
  }
  for (i, item) in images.enumerated() {
    let t0 = ContinuousClock.now
    let dir = root + "/" + names[i]
    if item.missing {
      writer.async {
        if progress { FileHandle.standardError.write("\r\u{1B}[K") }
        printError("\(item.path): no such file or folder")
        finished(i, failure: 66)
      }
      continue
    }
    do {
      let image = try decodeImage(item.path, maxPixels: maxPixels)
      let decodeMs = ms(since: t0)
      let result = try cache.segment(image, options: options)
      var timings = ["decode": decodeMs]
      for (step, secs) in result.timings { timings[step] = secs * 1000 }
      timings["total"] = ms(since: t0)
      slots.wait()
      writer.async { [timings] in
        defer { slots.signal() }
        do {
          let bytes = try writeOutputs(result, image: image, imagePath: item.path, modelPath: modelPath, model: model, options: options,
                                       configuration: configurationUsed, timings: timings, to: dir)
          let latency = ms(since: t0)   // decode, segment and write
          tally.lock.withLock { tally.latencies.append(latency) }
          if json, let line = compactJSON(bytes) { FileHandle.standardOutput.write(line + Data([10])) }
          if !progress && !json {
            FileHandle.standardError.write("\(item.path): \(result.segments.count) segments in \(String(format: "%.0f", latency)) ms -> \(dir)/\n")
          }
          finished(i, failure: nil)
          // RSS held to what it was after the first image: when it has grown by more than 512 KiB, the
          // allocators' free pages (all threads' malloc arenas) go back to the OS. Trimming after every
          // image cost ~20 % of the batch's speed on the demo split (the pages fault back in); without
          // any trim, RSS grew 5-7 MiB over the first 50 images.
          let rss = ProcessMemory.residentNowKB()
          if tally.lock.withLock({ () -> Bool in
            guard let first = tally.firstRSS else { tally.firstRSS = rss; return false }
            return rss > first + 512
          }) { trimHeap() }
        } catch {
          if progress { FileHandle.standardError.write("\r\u{1B}[K") }
          finished(i, failure: report(error))
        }
      }
    } catch {
      let failure = error
      writer.async {
        if progress { FileHandle.standardError.write("\r\u{1B}[K") }
        finished(i, failure: runFailure(failure, command: "run", opts))
      }
    }
  }
  writer.sync {}
  if progress { FileHandle.standardError.write("\n") }
  let latencies = tally.latencies, failures = tally.failures.sorted { $0.index < $1.index }
  let seconds = ms(since: start) / 1000
  let sorted = latencies.sorted()
  func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))] }
  FileHandle.standardError.write(
    "run: \(latencies.count) of \(images.count) images segmented\(failures.isEmpty ? "" : ", \(failures.count) failed") in "
      + String(format: "%.2f s (%.2f images/s); latency median %.0f ms, p95 %.0f ms; peak RSS %d KiB; %d session(s), %d arena fallbacks -> %@/\n",
               seconds, Double(latencies.count) / max(seconds, 1e-9), pct(0.5), pct(0.95), ProcessMemory.peakResidentKB(), cache.made,
               cache.arenaFallbacks, root))
  return failures.first?.code ?? 0
}

/// What the batch's writer thread reports back: latencies of whole images, failures by image index.
final class BatchTally: @unchecked Sendable {  // guarded by `lock`
  let lock = NSLock()
  var latencies: [Double] = []
  var failures: [(index: Int, code: Int32)] = []
  /// RSS after the first image was written (KiB).
  var firstRSS: Int?
}

/// segments.json's pretty bytes as one line.
func compactJSON(_ pretty: Data) -> Data? {
  guard let object = try? JSONSerialization.jsonObject(with: pretty) else { return nil }
  return try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
}

/// `\r[#####-----] 37/200  3.1 images/s  1 failed`, for a terminal.
func progressLine(done: Int, of total: Int, failed: Int, seconds: Double) -> String {
  let width = 30, filled = total == 0 ? width : done * width / total
  let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
  let rate = seconds > 0 ? Double(done) / seconds : 0
  return "\r[\(bar)] \(done)/\(total)  " + String(format: "%.1f images/s", rate) + (failed > 0 ? "  \(failed) failed" : "")
}
