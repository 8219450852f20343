// Profiler: nested, named spans of a forward pass (an op inside its block inside its stage), with
// MACs, precision, output shape and the resident memory (anonymous and file-backed) at each span's
// end. Exclusive time (a span minus its children) of every span sums exactly to the root span, so a
// per-layer table accounts for all of the time, glue included. Off (nil in InferenceContext) costs
// one optional check per op. It is a `GraphObserver`: set it as the context's observer.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MaskFormerInt8
import ProcessStats

public final class Profiler: GraphObserver, @unchecked Sendable {  // used from the thread running the forward pass only
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

  /// Times and memory only: the graph runs as it does unprofiled (int8 hand-overs, streamed decoders).
  public var readsValues: Bool { false }

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
    (spans[top.index].anonKB, spans[top.index].fileKB) = ProcessMemory.residentKB()
    if spans[top.index].depth <= 3 { spans[top.index].peakKB = ProcessMemory.peakResidentKB() }
    if !open.isEmpty { open[open.count - 1].childTime += total }
  }
}

extension Profiler {
  public func begin(_ op: OpInfo, input: TensorView?) {
    begin(op.name, kind: op.kind, macs: op.macs, precision: op.precision, bytes: op.bytes)
  }

  public func end(_ op: OpInfo, output: TensorView?, shape: [Int]) { end(shape: shape) }
}
