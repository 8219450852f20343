// `edge-seg profile MODEL IMAGE`: where time and memory go, per layer in graph order, per stage, and
// the resident memory split into mapped file pages (weights) and anonymous pages (activations).
import Converter
import EdgeSeg
import Foundation
import Profiling
import ProcessStats

func profileCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  let runs: Int
  let task: Segmentation.Task
  do {
    opts = try OptionParser(args, command: "profile")
    guard opts.positional.count == 2 else { throw UsageError(description: "expected MODEL IMAGE") }
    runs = try opts.int("--runs", default: 5, range: 1...1000)
    let t = opts.value("--task") ?? "panoptic"
    guard let v = Segmentation.Task(rawValue: t) else { throw UsageError(description: "--task must be panoptic, instance or semantic") }
    task = v
  } catch {
    return optionFailure(error, command: "profile")
  }
  let modelPath = opts.positional[0], imagePath = opts.positional[1]
  let baseline = ProcessMemory.residentNowKB() * 1024
  do {
    let image = try decodeImage(imagePath)
    let before = ProcessMemory.status()
    let model = try openModel(modelPath, opts)
    let afterLoad = ProcessMemory.status()
    // One session for every run, as an app that segments image after image keeps one (weights stay
    // resident, the arena keeps its pages).
    let configuration = try sessionConfiguration(opts, command: "profile", singleImage: false, baselineBytes: baseline)
    let session = try model.session(for: image, configuration: configuration)
    let arena = session.arena
    var all: [[Profiler.Span]] = [], walls: [Double] = [], arenaRuns: [Arena.Statistics] = []
    for _ in 0..<(runs + 1) {   // the first run warms caches and page tables, and is not counted
      let profiler = Profiler()
      session.observer = profiler
      arena.resetStatistics()
      trimHeap()   // each run starts from a trimmed heap, as a single run does
      ProcessMemory.resetPeak()   // each span then reads the peak of this run so far
      let wallStart = profiler.now()
      profiler.begin("total", kind: "total")
      let result = try session.segment(image, options: .pipeline(task))
      profiler.end(shape: [result.segmentation.height, result.segmentation.width])
      walls.append(profiler.now() - wallStart)
      arenaRuns.append(arena.statistics)
      all.append(profiler.spans)
    }
    session.observer = nil
    let measured = Array(all.dropFirst()), wall = walls.dropFirst().sorted()[runs / 2] * 1000
    let rows = ProfileSummary.rows(measured)
    let end = ProcessMemory.status()
    if let trace = opts.value("--trace") {
      try AtomicFile.write(try ChromeTrace.json(measured.last!, process: "edge-seg \(modelPath)"), to: trace)
    }
    let plan = session.plan
    // Typed and the deltas bound first: Swift 6.2 gives up type-checking the literal otherwise.
    let anonDelta: Int = (afterLoad["RssAnon"] ?? 0) - (before["RssAnon"] ?? 0)
    let fileDelta: Int = (afterLoad["RssFile"] ?? 0) - (before["RssFile"] ?? 0)
    var memory: [String: Int] = ["vmhwm_kb": end["VmHWM"] ?? 0, "rss_anon_kb": end["RssAnon"] ?? 0, "rss_file_kb": end["RssFile"] ?? 0,
                  "load_rss_anon_delta_kb": anonDelta, "load_rss_file_delta_kb": fileDelta,
                  "predicted_peak_kb": session.predictedPeakBytes >> 10,
                  "run_peak_kb": rows.first?.peakKB ?? 0, "token_chunk": plan.tokenChunk == .max ? 0 : plan.tokenChunk,
                  "band_rows": plan.bandRows == .max ? 0 : plan.bandRows]
    memory.merge(arenaReport(arena, runs: arenaRuns)) { $1 }
    let k = configuration.kernels, threads = configuration.threads
    if opts.isSet("--json") {
      print(profileJSON(rows, wallMs: wall, memory: memory, model: modelPath, image: imagePath, threads: threads, runs: runs, kernels: k))
    } else {
      print(profileTable(rows, wallMs: wall, memory: memory, model: modelPath, precision: model.precision.rawValue, threads: threads, runs: runs,
                         kernels: k))
    }
    return 0
  } catch {
    return runFailure(error, command: "profile", opts)
  }
}

/// The arena's figures for `profile`: its size, the pages touched, the peak in use, and the requests
/// that fell back to the heap in the warm-up run and in the measured ones (0 in the steady state).
func arenaReport(_ arena: Arena, runs: [Arena.Statistics]) -> [String: Int] {
  let measured = runs.dropFirst()
  let fallbacks = measured.reduce(0) { $0 + $1.fallbacks }, fallbackBytes = measured.reduce(0) { $0 + $1.fallbackBytes }
  let peak = runs.map(\.peakInUse).max() ?? 0
  return ["arena_capacity_kb": arena.capacity >> 10, "arena_high_water_kb": arena.statistics.highWater >> 10,
          "arena_peak_in_use_kb": peak >> 10, "arena_allocations_per_run": runs.last?.allocations ?? 0,
          "arena_fallbacks_first_run": runs.first?.fallbacks ?? 0, "arena_fallbacks": fallbacks, "arena_fallback_kb": fallbackBytes >> 10]
}

func profileTable(_ rows: [ProfileRow], wallMs: Double, memory: [String: Int], model: String, precision: String, threads: Int,
                  runs: Int, kernels: KernelTable) -> String {
  func f(_ x: Double, _ d: Int) -> String { String(format: "%.\(d)f", x) }
  let total = rows.first?.inclusiveMs ?? 0
  let sum = rows.reduce(0) { $0 + $1.exclusiveMs }
  var out = ["\(model) (\(precision), kernels \(kernels.f32GEMM.rawValue)+\(kernels.qs8GEMM.rawValue), \(threads) threads): median of \(runs) runs after one warm-up",
             "", "per span in graph order (indented by nesting; a block's row is its own time outside its children):",
             "span".padding(toLength: 74, withPad: " ", startingAt: 0) + "     ms   share       MACs  GMAC/s prec  shape              MB moved"]
  for r in rows {
    let name = String(repeating: "  ", count: r.depth) + shortName(r.name)
    let shape = r.shape.map(String.init).joined(separator: "x")
    out.append(name.padding(toLength: 74, withPad: " ", startingAt: 0) + f(r.exclusiveMs, 3).leftPad(7)
               + (f(100 * r.exclusiveMs / max(total, 1e-9), 1) + "%").leftPad(8)
               + (r.macs > 0 ? String(format: "%11.3e", Double(r.macs)) : "-".leftPad(11))
               + (r.gmacs > 0 ? f(r.gmacs, 1) : "-").leftPad(8) + " " + (r.macs > 0 ? r.precision : "").padding(toLength: 5, withPad: " ", startingAt: 0)
               + shape.padding(toLength: 19, withPad: " ", startingAt: 0) + (r.bytes > 0 ? f(Double(r.bytes) / 1e6, 2) : "-").leftPad(8))
  }
  out += ["", "per stage (inclusive, ms):"]
  for r in rows where r.kind == "stage" {
    out.append("  " + r.name.padding(toLength: 24, withPad: " ", startingAt: 0) + f(r.inclusiveMs, 2).leftPad(9)
               + (f(100 * r.inclusiveMs / max(total, 1e-9), 1) + "%").leftPad(8))
  }
  let macs = rows.reduce(0) { $0 + $1.macs }
  out += ["", "sum of span times \(f(sum, 2)) ms; end-to-end wall time \(f(wallMs, 2)) ms (difference \(f(100 * abs(sum - wallMs) / max(wallMs, 1e-9), 2)) %); \(f(Double(macs) / 1e9, 2)) GMAC",
          "memory: peak RSS (VmHWM) \(memory["vmhwm_kb"]! / 1024) MiB; now anonymous \(memory["rss_anon_kb"]! / 1024) MiB, file-backed (mapped weights) \(memory["rss_file_kb"]! / 1024) MiB; loading the model added \(memory["load_rss_anon_delta_kb"]!) KiB anonymous, \(memory["load_rss_file_delta_kb"]!) KiB file-backed",
          "memory: predicted peak \(memory["predicted_peak_kb"]! >> 10) MiB (MemoryPlan: \(memory["token_chunk"]! == 0 ? "whole maps" : "\(memory["token_chunk"]!)-token chunks"), "
            + "\(memory["band_rows"]! == 0 ? "stride-4 maps whole" : "\(memory["band_rows"]!)-row bands")); measured peak of one run \(memory["run_peak_kb"]! >> 10) MiB (heap trimmed and VmHWM reset before each run)",
          "memory: arena \(memory["arena_capacity_kb"]! >> 10) MiB reserved, \(memory["arena_high_water_kb"]! >> 10) MiB touched, \(memory["arena_peak_in_use_kb"]! >> 10) MiB in use at the peak; "
            + "\(memory["arena_allocations_per_run"]!) buffers per run, heap fallbacks: \(memory["arena_fallbacks_first_run"]!) in the warm-up run, \(memory["arena_fallbacks"]!) (\(memory["arena_fallback_kb"]!) KiB) in the measured runs",
          "memory timeline (MiB: resident after each stage, anonymous + file; peak RSS of the run so far):"]
  for r in rows where r.kind == "stage" || r.kind == "total" {
    out.append("  " + r.name.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(r.anonKB / 1024) + \(r.fileKB / 1024)".padding(toLength: 12, withPad: " ", startingAt: 0)
               + (r.peakKB > 0 ? "peak \(r.peakKB / 1024)" : ""))
  }
  return out.joined(separator: "\n")
}

/// HF module names without the wrapper prefixes, for the table.
func shortName(_ name: String) -> String {
  for (prefix, short) in [("model.pixel_level_module.encoder.model.encoder.layers.", "encoder.layers."),
                          ("model.pixel_level_module.encoder.model.", "encoder."), ("model.pixel_level_module.encoder.", "encoder."),
                          ("model.pixel_level_module.decoder.", "pixel_decoder."), ("model.transformer_module.", "transformer.")]
  where name.hasPrefix(prefix) {
    return short + name.dropFirst(prefix.count)
  }
  return name
}

func profileJSON(_ rows: [ProfileRow], wallMs: Double, memory: [String: Int], model: String, image: String, threads: Int, runs: Int,
                 kernels: KernelTable) -> String {
  let spans: [[String: Any]] = rows.map { r in
    ["name": r.name, "kind": r.kind, "depth": r.depth, "ms": r.exclusiveMs, "inclusive_ms": r.inclusiveMs, "macs": r.macs,
     "gmacs": r.gmacs, "precision": r.precision, "shape": r.shape, "bytes": r.bytes, "rss_anon_kb": r.anonKB, "rss_file_kb": r.fileKB, "peak_kb": r.peakKB]
  }
  let obj: [String: Any] = ["model": model, "image": image, "threads": threads, "runs": runs,
                            "kernels": "\(kernels.f32GEMM.rawValue)+\(kernels.qs8GEMM.rawValue)", "wall_ms": wallMs,
                            "sum_ms": rows.reduce(0) { $0 + $1.exclusiveMs }, "memory": memory, "spans": spans]
  let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])) ?? Data()
  return String(decoding: data, as: UTF8.self)
}

#if os(Linux)
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Returns the allocator's free pages to the OS (glibc `malloc_trim`; a no-op elsewhere).
func trimHeap() {
  #if os(Linux)
  _ = glibcMallocTrim(0)
  #endif
}
