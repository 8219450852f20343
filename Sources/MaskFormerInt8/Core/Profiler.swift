// Profiler: nested, named spans of a forward pass (an op inside its block inside its stage), with
// MACs, precision, output shape and the resident memory (anonymous and file-backed) at each span's
// end. Exclusive time (a span minus its children) of every span sums exactly to the root span, so a
// per-layer table accounts for all of the time, glue included. Off (nil in InferenceContext) costs
// one optional check per op.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class Profiler: @unchecked Sendable {  // used from the thread running the forward pass only
  public struct Span: Sendable {
    public var name: String
    /// The op family: "linear", "conv", "layernorm", "attention", "block", "stage", ...
    public var kind: String
    public var depth: Int
    public var start: Double
    public var end: Double
    /// Seconds inside this span and not inside a child.
    public var exclusive: Double
    public var macs: Int
    public var precision: String
    public var shape: [Int]
    /// Bytes the op reads and writes (inputs, weights, outputs), estimated from shapes and dtypes.
    public var bytes: Int
    /// Resident anonymous and file-backed memory when the span ended, KiB (Linux; 0 elsewhere).
    public var anonKB: Int
    public var fileKB: Int
    /// Peak resident memory of the process (VmHWM, KiB) when the span ended; spans of depth <= 3
    /// only (a /proc read each), 0 for deeper spans and off Linux.
    public var peakKB: Int = 0
  }

  public private(set) var spans: [Span] = []
  private var open: [(index: Int, childTime: Double)] = []
  private let t0: UInt64

  public init() { t0 = Self.nanos() }

  static func nanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
  }

  /// Seconds since the profiler was made.
  public func now() -> Double { Double(Self.nanos() - t0) / 1e9 }

  public func begin(_ name: String, kind: String, macs: Int = 0, precision: String = "", bytes: Int = 0) {
    spans.append(Span(name: name, kind: kind, depth: open.count, start: now(), end: 0, exclusive: 0, macs: macs,
                      precision: precision, shape: [], bytes: bytes, anonKB: 0, fileKB: 0))
    open.append((spans.count - 1, 0))
  }

  public func end(shape: [Int] = []) {
    guard let top = open.popLast() else { preconditionFailure("Profiler.end without begin") }
    let t = now()
    spans[top.index].end = t
    let total = t - spans[top.index].start
    spans[top.index].exclusive = total - top.childTime
    spans[top.index].shape = shape
    (spans[top.index].anonKB, spans[top.index].fileKB) = Self.resident()
    if spans[top.index].depth <= 3 { spans[top.index].peakKB = Self.peakResident() }
    if !open.isEmpty { open[open.count - 1].childTime += total }
  }

  /// Resident anonymous and file-backed KiB from /proc/self/statm (resident − shared, shared).
  static func resident() -> (Int, Int) {
    #if os(Linux)
    let fd = Glibc.open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return (0, 0) }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 128)
    let n = read(fd, &buf, 127)
    guard n > 0 else { return (0, 0) }
    let fields = String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ").compactMap { Int($0) }
    guard fields.count >= 3 else { return (0, 0) }
    let page = Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    return ((fields[1] - fields[2]) * page, fields[2] * page)
    #else
    return (0, 0)
    #endif
  }
}

extension Profiler {
  /// VmHWM from /proc/self/status, KiB (Linux; 0 elsewhere).
  public static func peakResident() -> Int {
    #if os(Linux)
    let fd = Glibc.open("/proc/self/status", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buf, 4095)
    guard n > 0 else { return 0 }
    let key = Array("VmHWM:".utf8)
    guard let at = (0...(n - key.count)).first(where: { i in key.indices.allSatisfy { buf[i + $0] == key[$0] } }) else { return 0 }
    var kb = 0
    for b in buf[(at + key.count)..<n] {
      if b == UInt8(ascii: "\n") { break }
      if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { kb = kb * 10 + Int(b - UInt8(ascii: "0")) }
    }
    return kb
    #else
    return 0
    #endif
  }

  /// Resets the process's peak resident memory to its current resident memory (Linux: writes 5 to
  /// /proc/self/clear_refs), so that a run's own peak can be read afterwards. False if unsupported.
  @discardableResult
  public static func resetPeakResident() -> Bool {
    #if os(Linux)
    let fd = Glibc.open("/proc/self/clear_refs", O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return write(fd, "5", 1) == 1
    #else
    return false
    #endif
  }
}

/// `a.b.c.d` without its last `n` dot-separated components.
func moduleName(_ name: String, droppingLast n: Int) -> String {
  name.split(separator: ".", omittingEmptySubsequences: false).dropLast(n).joined(separator: ".")
}

extension InferenceContext {
  /// Runs `body` inside a span when profiling; `shape` describes the result.
  @inline(__always)
  func span<T>(_ name: @autoclosure () -> String, _ kind: String, macs: @autoclosure () -> Int = 0,
               precision: @autoclosure () -> String = "f32", bytes: @autoclosure () -> Int = 0,
               shape: (T) -> [Int] = { _ in [] }, _ body: () -> T) -> T {
    guard let profiler else { return body() }
    profiler.begin(name(), kind: kind, macs: macs(), precision: precision(), bytes: bytes())
    let result = body()
    profiler.end(shape: shape(result))
    return result
  }
}
