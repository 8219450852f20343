// CLI plumbing shared by the subcommands: option parsing, errors with exit codes, stderr output.
import Converter
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8

/// A command-line mistake: exit code 64.
struct UsageError: Error, CustomStringConvertible {
  var description: String
}

/// Parses `--flag value`, `--flag=value` and bare `--switch`es, rejecting unknown flags.
struct OptionParser {
  private(set) var positional: [String] = []
  private var values: [String: String] = [:]

  init(_ args: ArraySlice<String>, valueFlags: Set<String>, switches: Set<String>) throws(UsageError) {
    var i = args.startIndex
    while i < args.endIndex {
      let a = args[i]
      if a.hasPrefix("--") {
        let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
        let flag = parts[0]
        if switches.contains(flag) {
          guard parts.count == 1 else { throw UsageError(description: "\(flag) takes no value") }
          values[flag] = "1"
        } else if valueFlags.contains(flag) {
          if parts.count == 2 {
            values[flag] = parts[1]
          } else {
            i += 1
            guard i < args.endIndex else { throw UsageError(description: "\(flag) needs a value") }
            values[flag] = args[i]
          }
        } else {
          throw UsageError(description: "unknown option \(flag)")
        }
      } else {
        positional.append(a)
      }
      i += 1
    }
  }

  func value(_ flag: String) -> String? { values[flag] }
  func isSet(_ flag: String) -> Bool { values[flag] != nil }
  func int(_ flag: String, default d: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
    guard let v = values[flag] else { return d }
    guard let n = Int(v), range.contains(n) else { throw UsageError(description: "\(flag) must be an integer in \(range), got '\(v)'") }
    return n
  }
}

/// The kernels `--isa` names (default auto), or nil after printing why not (the caller exits 64).
func kernelTable(_ opts: OptionParser, command: String) -> KernelTable? {
  let features = CPUFeatures.detect(), isa = opts.value("--isa") ?? "auto"
  guard let table = KernelTable.named(isa, features: features) else {
    printError("\(command): --isa \(isa) is unknown or not supported by this CPU (\(features))")
    return nil
  }
  return table
}

/// Tuning: `--token-chunk N` (Swin blocks process at most N tokens at a time) and `--band-rows N`
/// (the stride-4 pixel-decoder maps are streamed in bands of N rows); 0 = whole maps.
func applyTiling(_ opts: OptionParser, to ctx: inout InferenceContext) throws {
  if opts.value("--token-chunk") != nil {
    let n = try opts.int("--token-chunk", default: 0, range: 0...(1 << 30))
    ctx.tokenChunk = n == 0 ? .max : n
  }
  if opts.value("--band-rows") != nil {
    let n = try opts.int("--band-rows", default: 0, range: 0...(1 << 30))
    ctx.bandRows = n == 0 ? .max : n
  }
}

/// `--max-memory SIZE` (bytes, or with K/M/G[B]/KiB/MiB/GiB, powers of 1024): picks the streaming
/// parameters whose predicted peak RSS fits, or throws a usage error naming the budget and what this
/// input needs. `baselineKB`: resident memory before the image and model (binary, runtime); the
/// weights count in full unless their pages are released after use.
func memoryPlan(_ opts: OptionParser, _ loaded: LoadedModel, image: (height: Int, width: Int), baselineKB: Int,
                weightsReleased: Bool) throws -> (plan: MemoryPlan, budget: Int, overhead: Int)? {
  guard let text = opts.value("--max-memory") else { return nil }
  guard let budget = parseByteSize(text) else {
    throw UsageError(description: "--max-memory takes a size like 256M, 1G or 300000000, got '\(text)'")
  }
  let input = ImageProcessor.outputSize(height: image.height, width: image.width, config: loaded.preprocessor)
  let weights = loaded.weightBytes
  let overhead = baselineKB * 1024 + (weightsReleased ? Swift.min(weights, 8 << 20) : weights)
  switch MemoryPlan.choose(loaded.model.config, input: input, image: image, int8: loaded.precision != "float32", budget: budget - overhead) {
  case .success(let plan): return (plan, budget, overhead)
  case .failure(let e):
    throw UsageError(description: "--max-memory \(text) cannot be met for a \(image.width)x\(image.height) image (model input \(input.width)x\(input.height)): "
                     + "\(e.leanest.predictedBytes >> 20) MiB of activations at the least (peak in \(e.leanest.phase)) on top of \(overhead >> 20) MiB for the program and weights")
  }
}

/// Without `--max-memory`: whole maps unless they would take more than half of the machine's
/// physical memory, then the fastest streaming that fits (or the leanest): a large image on a small
/// device streams instead of being killed.
func defaultMemoryPlan(_ loaded: LoadedModel, image: (height: Int, width: Int), baselineKB: Int) -> MemoryPlan {
  let input = ImageProcessor.outputSize(height: image.height, width: image.width, config: loaded.preprocessor)
  let budget = Int(ProcessInfo.processInfo.physicalMemory / 2) - baselineKB * 1024 - loaded.weightBytes
  switch MemoryPlan.choose(loaded.model.config, input: input, image: image, int8: loaded.precision != "float32", budget: budget) {
  case .success(let plan): return plan
  case .failure(let e): return e.leanest
  }
}

/// The arena for images of this size under `ctx`'s streaming settings (`Segmenter.arena`).
func activationArena(_ loaded: LoadedModel, image: (height: Int, width: Int), for ctx: InferenceContext,
                     returnsFreedPages: Bool) -> Arena {
  Segmenter(model: loaded.model, preprocessor: loaded.preprocessor).arena(forImage: image, context: ctx, returnsFreedPages: returnsFreedPages)
}

func parseByteSize(_ text: String) -> Int? {
  let t = text.trimmingCharacters(in: .whitespaces).uppercased()
  let units: [(String, Int)] = [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10),
                                ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
  for (suffix, scale) in units where t.hasSuffix(suffix) {
    guard let v = Double(t.dropLast(suffix.count)), v > 0, v * Double(scale) < 1e15 else { return nil }
    return Int(v * Double(scale))
  }
  guard let v = Int(t), v > 0 else { return nil }
  return v
}

extension FileHandle {
  func write(_ s: String) { write(Data(s.utf8)) }
}

/// Prints a failure (one line naming the file and the problem) and returns its exit code:
/// 65 bad input data, 66 unreadable file, 73 cannot write the output, 1 anything else.
func report(_ error: any Error, prefix: String = "") -> Int32 {
  printError(prefix + "\(error)")
  switch error {
  case is CheckpointError, is SafetensorsError, is ModelFileError, is ImageError: return 65
  case is MappedFileError: return 66
  case is OutputError, is WriteError: return 73
  case is UsageError: return 64
  default: return 1
  }
}

func printError(_ message: String, hint: String? = nil) {
  FileHandle.standardError.write("edge-seg: \(message)\n")
  if let hint { FileHandle.standardError.write("hint: \(hint)\n") }
}

/// Peak and current resident memory from the OS (Linux /proc/self/status; getrusage elsewhere), in KiB.
enum ProcessMemory {
  static func status() -> [String: Int] {
    var out: [String: Int] = [:]
    #if os(Linux)
    if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { continue }
        let num = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
        if let num { out[String(parts[0])] = num }
      }
    }
    #endif
    if out["VmHWM"] == nil {
      var usage = rusage()
      #if os(Linux)
      getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
      #else
      getrusage(RUSAGE_SELF, &usage)
      #endif
      #if canImport(Darwin)
      out["VmHWM"] = Int(usage.ru_maxrss) / 1024  // bytes on Darwin
      #else
      out["VmHWM"] = Int(usage.ru_maxrss)  // KiB on Linux
      #endif
    }
    return out
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
