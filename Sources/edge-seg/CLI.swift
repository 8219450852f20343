// CLI plumbing shared by the subcommands: option parsing, errors with exit codes, stderr output.
import Converter
import EdgeSeg
import Evaluation
import Foundation
import ProcessStats

/// A command-line mistake: exit code 64.
struct UsageError: Error, CustomStringConvertible {
  var description: String
}

/// `--help` or `-h` anywhere: the caller prints the command's usage and exits 0.
struct HelpRequested: Error {}

/// What a command does when parsing its options failed: `--help` prints its usage (exit 0); anything
/// else is a usage error (exit 64) with a hint.
func optionFailure(_ error: any Error, command: String) -> Int32 {
  if error is HelpRequested {
    print(Usage.help(command))
    return 0
  }
  printError("\(command): \(error)", hint: "edge-seg help \(command)")
  return 64
}

/// A failure while running a command: a memory budget that cannot be met is told in `--max-memory`'s
/// words (exit 64); the rest as `report` does.
func runFailure(_ error: any Error, command: String, _ opts: OptionParser) -> Int32 {
  if let e = error as? SessionError, case .budget = e, let text = opts.value("--max-memory") {
    printError("\(command): --max-memory \(text) cannot be met \(e.detail)")
    return 64
  }
  return report(error, prefix: command == "run" ? "" : "\(command): ")
}

/// Parses `--flag value`, `--flag=value` and bare `--switch`es, rejecting unknown flags.
struct OptionParser {
  private(set) var positional: [String] = []
  private var values: [String: String] = [:]

  init(_ args: ArraySlice<String>, valueFlags: Set<String>, switches: Set<String>) throws {
    var i = args.startIndex
    while i < args.endIndex {
      let a = args[i]
      if a == "--help" || a == "-h" { throw HelpRequested() }
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
  guard var table = KernelTable.named(isa, features: features) else {
    printError("\(command): --isa \(isa) is unknown or not supported by this CPU (\(features))")
    return nil
  }
  if opts.isSet("--float-attention") { table.int8Attention = nil }
  return table
}

nonisolated(unsafe) var notedMemoryLimit = false

/// The session settings the options name: `--threads`, `--isa`, and the memory policy
/// (`--max-memory SIZE`, else `--token-chunk N` / `--band-rows N` by hand, 0 = whole maps, else automatic).
func sessionConfiguration(_ opts: OptionParser, command: String, singleImage: Bool, baselineBytes: Int? = nil) throws -> SessionConfiguration {
  var c = SessionConfiguration(threads: try opts.int("--threads", default: defaultThreads(), range: 1...1024),
                               singleImage: singleImage, baselineBytes: baselineBytes)
  guard let kernels = kernelTable(opts, command: command) else { throw UsageError(description: "--isa \(opts.value("--isa") ?? "")") }
  c.kernels = kernels
  if let text = opts.value("--max-memory") {
    guard let budget = parseByteSize(text) else {
      throw UsageError(description: "--max-memory takes a size like 256M, 1G or 300000000, got '\(text)'")
    }
    c.memory = .budget(bytes: budget)
    if let limit = c.memoryLimitBytes, budget > limit, !notedMemoryLimit {
      notedMemoryLimit = true
      FileHandle.standardError.write("edge-seg: note: --max-memory \(text) is above this process's memory limit (its cgroup's, \(limit >> 20) MiB): planning for the limit\n")
    }
  } else if opts.value("--token-chunk") != nil || opts.value("--band-rows") != nil {
    let chunk = try opts.int("--token-chunk", default: 4096, range: 0...(1 << 30))
    let band = try opts.int("--band-rows", default: 0, range: 0...(1 << 30))
    c.memory = .streaming(tokenChunk: chunk == 0 ? .max : chunk, bandRows: band == 0 ? .max : band)
  }
  return c
}

/// MODEL opened (a model file or a checkpoint folder), with `--size N` applied.
func openModel(_ path: String, _ opts: OptionParser, baselineBytes: Int? = nil) throws -> SegmentationModel {
  let model = try SegmentationModel(path: path)
  guard let size = opts.value("--size") else { return model }
  guard let n = Int(size), (32...16384).contains(n) else { throw UsageError(description: "--size must be an integer in 32...16384, got '\(size)'") }
  return model.resized(shortestEdge: n)
}

/// IMAGE decoded, or an error naming the file (ImageFileError: 66 unreadable, 65 not an image).
func decodeImage(_ path: String, maxPixels: Int = DecodeLimits().maxPixels) throws -> Image {
  try ImageDecoder.decode(contentsOfFile: path, limits: DecodeLimits(maxPixels: maxPixels))
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
  case is CheckpointError, is SafetensorsError, is ModelFileError, is ImageError, is PanopticQualityError, is DatasetError: return 65
  case is MappedFileError: return 66
  case let e as ImageFileError: return e.reason == .unreadable ? 66 : 65
  case is OutputError, is WriteError: return 73
  case is UsageError, is SessionError: return 64
  default: return 1
  }
}

func printError(_ message: String, hint: String? = nil) {
  FileHandle.standardError.write("edge-seg: \(message)\n")
  if let hint { FileHandle.standardError.write("hint: \(hint)\n") }
}

/// SIGBUS: a message on stderr and exit 74 (see main.swift).
func installMappedFileFaultHandler() {
  var action = sigaction()
  #if canImport(Glibc)
  action.__sigaction_handler.sa_handler = { _ in
    let message = "edge-seg: SIGBUS: a memory-mapped file (the model) was truncated or became unreadable while in use; exiting\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    _exit(74)
  }
  #else
  action.__sigaction_u.__sa_handler = { _ in
    let message = "edge-seg: SIGBUS: a memory-mapped file (the model) was truncated or became unreadable while in use; exiting\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    _exit(74)
  }
  #endif
  sigemptyset(&action.sa_mask)
  sigaction(SIGBUS, &action, nil)
}
