// Profile: per-span statistics over several profiled runs (median exclusive time per span path, matched
// by position: every run of one model on one input records the same spans in the same order), and
// the Chrome trace-event JSON that Perfetto and chrome://tracing open.
import Foundation
import MaskFormerInt8

/// One span path's figures: its spans folded (`span`: MACs, bytes and the shape's leading dimension
/// summed, the largest resident memory kept; read through `row.name`, `row.macs`, ...) and its times.
@dynamicMemberLookup
public struct ProfileRow: Sendable {
  public var span: Profiler.Span
  /// Median over runs, milliseconds: time in the span but not in a child, and in total.
  public var exclusiveMs: Double
  public var inclusiveMs: Double

  public subscript<T>(dynamicMember path: KeyPath<Profiler.Span, T>) -> T { span[keyPath: path] }

  /// Achieved GMAC/s over the span's own time (0 without MACs).
  public var gmacs: Double { span.macs > 0 && exclusiveMs > 0 ? Double(span.macs) / (exclusiveMs * 1e6) : 0 }
}

public enum ProfileSummary {
  /// One row per distinct span path (names from the root down) of the first run, in order of first
  /// appearance, with the median of each row's times across runs. A streamed op runs once per chunk
  /// and records a span each time: those spans fold into one row (times, MACs and bytes summed, the
  /// shapes' leading dimension summed when the rest agree, the largest resident memory kept).
  public static func rows(_ runs: [[Profiler.Span]]) -> [ProfileRow] {
    guard !runs.isEmpty else { return [] }
    func median(_ xs: [Double]) -> Double {
      let s = xs.sorted()
      return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    let merged = runs.map(fold)
    let reference = merged[0]
    let consistent = merged.filter { $0.count == reference.count && zip($0, reference).allSatisfy { $0.name == $1.name } }
    return reference.indices.map { i in
      var row = reference[i]
      row.exclusiveMs = median(consistent.map { $0[i].exclusiveMs })
      row.inclusiveMs = median(consistent.map { $0[i].inclusiveMs })
      return row
    }
  }

  /// One run's spans folded by path.
  static func fold(_ spans: [Profiler.Span]) -> [ProfileRow] {
    var rows: [ProfileRow] = [], index: [String: Int] = [:], path: [String] = []
    for s in spans {
      path.removeLast(Swift.max(0, path.count - s.depth))
      path.append(s.name)
      let key = path.joined(separator: "\u{1}")
      let ms = 1000 * s.exclusive, inclusive = 1000 * (s.end - s.start)
      guard let i = index[key] else {
        index[key] = rows.count
        rows.append(ProfileRow(span: s, exclusiveMs: ms, inclusiveMs: inclusive))
        continue
      }
      rows[i].exclusiveMs += ms
      rows[i].inclusiveMs += inclusive
      var f = rows[i].span
      f.macs += s.macs
      f.bytes += s.bytes
      f.anonKB = Swift.max(f.anonKB, s.anonKB)
      f.fileKB = Swift.max(f.fileKB, s.fileKB)
      f.peakKB = Swift.max(f.peakKB, s.peakKB)
      if let a = f.shape.first, let b = s.shape.first, f.shape.dropFirst() == s.shape.dropFirst() { f.shape[0] = a + b }
      rows[i].span = f
    }
    return rows
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
        events.append(["name": "resident memory (MiB)", "ph": "C", "ts": s.end * 1e6, "pid": 1, "tid": 1,
                       "args": ["anonymous": Double(s.anonKB) / 1024, "file": Double(s.fileKB) / 1024]])
      }
    }
    return try JSONSerialization.data(withJSONObject: ["traceEvents": events, "displayTimeUnit": "ms"], options: [.sortedKeys])
  }
}
