// Profile: per-span statistics over several profiled runs (median exclusive time per span, matched
// by position: every run of one model on one input records the same spans in the same order), and
// the Chrome trace-event JSON that Perfetto and chrome://tracing open.
import Foundation
import MaskFormerInt8

public struct ProfileRow: Sendable {
  public var name: String
  public var kind: String
  public var depth: Int
  /// Median over runs, milliseconds: time in the span but not in a child, and in total.
  public var exclusiveMs: Double
  public var inclusiveMs: Double
  public var macs: Int
  public var precision: String
  public var shape: [Int]
  public var bytes: Int
  public var anonKB: Int
  public var fileKB: Int

  /// Achieved GMAC/s over the span's own time (0 without MACs).
  public var gmacs: Double { macs > 0 && exclusiveMs > 0 ? Double(macs) / (exclusiveMs * 1e6) : 0 }
}

public enum ProfileSummary {
  /// One row per span of the first run, with the median of each span's times across runs.
  public static func rows(_ runs: [[Profiler.Span]]) -> [ProfileRow] {
    guard let first = runs.first else { return [] }
    func median(_ xs: [Double]) -> Double {
      let s = xs.sorted()
      return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    let consistent = runs.filter { $0.count == first.count && zip($0, first).allSatisfy { $0.name == $1.name } }
    return first.indices.map { i in
      let s = first[i]
      return ProfileRow(name: s.name, kind: s.kind, depth: s.depth,
                        exclusiveMs: 1000 * median(consistent.map { $0[i].exclusive }),
                        inclusiveMs: 1000 * median(consistent.map { $0[i].end - $0[i].start }),
                        macs: s.macs, precision: s.precision, shape: s.shape, bytes: s.bytes, anonKB: s.anonKB, fileKB: s.fileKB)
    }
  }
}

public enum ChromeTrace {
  /// Trace-event JSON (the "JSON Object Format"): one complete event ("ph": "X") per span with
  /// microsecond timestamps, and counter events ("ph": "C") for resident anonymous and file memory.
  public static func json(_ spans: [Profiler.Span], process: String = "edge-seg") throws -> Data {
    var events: [[String: Any]] = [["name": "process_name", "ph": "M", "pid": 1, "tid": 1, "args": ["name": process]]]
    for s in spans {
      var args: [String: Any] = ["precision": s.precision, "shape": s.shape, "exclusive_us": s.exclusive * 1e6]
      if s.macs > 0 { args["macs"] = s.macs }
      if s.bytes > 0 { args["bytes"] = s.bytes }
      events.append(["name": s.name, "cat": s.kind, "ph": "X", "ts": s.start * 1e6, "dur": (s.end - s.start) * 1e6,
                     "pid": 1, "tid": 1, "args": args])
      if s.anonKB > 0 || s.fileKB > 0 {
        events.append(["name": "resident memory (MB)", "ph": "C", "ts": s.end * 1e6, "pid": 1, "tid": 1,
                       "args": ["anonymous": Double(s.anonKB) / 1024, "file": Double(s.fileKB) / 1024]])
      }
    }
    return try JSONSerialization.data(withJSONObject: ["traceEvents": events, "displayTimeUnit": "ms"], options: [.sortedKeys])
  }
}
