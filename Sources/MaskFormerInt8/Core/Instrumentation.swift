// Instrumentation: the one hook at op boundaries that the profiler, the calibration observers and the
// drift probe all use. An op announces itself (name, kind, MACs, bytes, precision) with the tensor it
// reads, and ends with the tensor it wrote; blocks and stages announce themselves without tensors;
// named intermediates (stage features, FPN levels, ...) are reported where they are produced. The
// graph computes the same thing whether or not anything observes it: chunks, bands and int8
// hand-over stay on, and an observer sees each chunk or band as the op produces it, in graph order.
import Quant

/// A tensor at an op boundary: rows of float or int8 values (`columns` of every `stride`), valid only
/// for the duration of the observer call.
public struct TensorView {
  public enum Values {
    case float(UnsafePointer<Float>)
    /// Int8 values with their quantization (`real = scale · (q − zeroPoint)`).
    case int8(UnsafePointer<Int8>, QuantParams)
  }

  public var values: Values
  public var rows: Int
  public var columns: Int
  public var stride: Int

  public init(_ values: Values, rows: Int, columns: Int, stride: Int? = nil) {
    self.values = values
    self.rows = rows
    self.columns = columns
    self.stride = stride ?? columns
  }

  /// Contiguous floats.
  public static func floats(_ b: UnsafeBufferPointer<Float>, columns: Int) -> TensorView {
    TensorView(.float(b.baseAddress!), rows: columns > 0 ? b.count / columns : 0, columns: columns)
  }

  public var count: Int { rows * columns }

  /// The values as contiguous floats (int8 dequantized; strided rows gathered). No copy when the view
  /// is already contiguous float.
  public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R {
    if case .float(let p) = values, stride == columns { return body(UnsafeBufferPointer(start: p, count: count)) }
    let copy = floats()
    return copy.withUnsafeBufferPointer(body)
  }

  /// A copy of the values as floats, row-major `rows × columns`.
  public func floats() -> [Float] {
    var out = [Float](repeating: 0, count: count)
    for r in 0..<rows {
      for c in 0..<columns {
        switch values {
        case .float(let p): out[r * columns + c] = p[r * stride + c]
        case .int8(let p, let q): out[r * columns + c] = q.dequantize(p[r * stride + c])
        }
      }
    }
    return out
  }
}

/// What an op, block or stage is, as instrumentation sees it.
public struct OpInfo: Sendable {
  /// The module's name in Hugging Face's spelling (a layer's checkpoint name without `.weight`).
  public var name: String
  /// The op family: "linear", "conv3x3", "layernorm", "attention", "block", "stage", ...
  public var kind: String
  public var macs: Int
  /// Bytes the op reads and writes (inputs, weights, outputs), estimated from shapes and dtypes.
  public var bytes: Int
  /// "f32", "int8" for ops with MACs; empty otherwise.
  public var precision: String

  public init(name: String, kind: String, macs: Int = 0, bytes: Int = 0, precision: String = "") {
    self.name = name
    self.kind = kind
    self.macs = macs
    self.bytes = bytes
    self.precision = precision
  }
}

/// Observes a forward pass at op boundaries (`InferenceContext.observer`). It must not keep a
/// `TensorView` past the call. Calls come from the thread running the forward pass, in graph order.
public protocol GraphObserver: AnyObject {
  /// An op, block or stage starts; `input` is what an op reads (nil for blocks and stages).
  func begin(_ op: OpInfo, input: TensorView?)
  /// It ended; `output` is what an op wrote, `shape` its logical shape.
  func end(_ op: OpInfo, output: TensorView?, shape: [Int])
  /// A named intermediate (`encoder.stage0`, `pixel_decoder.fpn1`, ...), as it is produced (possibly in
  /// pieces, when streamed).
  func tensor(_ name: String, _ view: TensorView, shape: [Int])
  /// Whether it reads the values ops produce (calibration, drift, a recorder): blocks that fuse ops or
  /// stream a tensor in pieces (never writing it whole) then compute the same values op by op, so that
  /// each op's input and output can be seen. An observer of phases or times only says no and sees the
  /// graph as it runs unobserved.
  var readsValues: Bool { get }
}

extension GraphObserver {
  public var readsValues: Bool { true }
  public func begin(_ op: OpInfo, input: TensorView?) {}
  public func end(_ op: OpInfo, output: TensorView?, shape: [Int]) {}
  public func tensor(_ name: String, _ view: TensorView, shape: [Int]) {}
}

/// Several observers as one, called in order.
public final class ObserverGroup: GraphObserver {
  public let members: [any GraphObserver]
  public init(_ members: [any GraphObserver]) { self.members = members }
  public func begin(_ op: OpInfo, input: TensorView?) { for m in members { m.begin(op, input: input) } }
  public func end(_ op: OpInfo, output: TensorView?, shape: [Int]) { for m in members { m.end(op, output: output, shape: shape) } }
  public func tensor(_ name: String, _ view: TensorView, shape: [Int]) { for m in members { m.tensor(name, view, shape: shape) } }
  public var readsValues: Bool { members.contains { $0.readsValues } }
}

/// Which side of a layer a layer observer sees.
public enum LayerTap: Sendable, Equatable {
  case input, output
}

/// The layers' inputs and outputs as floats (int8 views dequantized), for calibration and drift:
/// `body(layer, tap, values)` at every Linear and convolution boundary, in graph order, one call per
/// chunk or band as the op runs on it. Ops inside a "recompute" span (the banded stride-4 level's
/// statistics passes, which the production pass repeats) are skipped.
public final class LayerObserver: GraphObserver {
  let body: (_ layer: String, _ tap: LayerTap, _ values: UnsafeBufferPointer<Float>) -> Void
  var recomputing = 0

  public init(_ body: @escaping (_ layer: String, _ tap: LayerTap, _ values: UnsafeBufferPointer<Float>) -> Void) {
    self.body = body
  }

  static func isLayer(_ op: OpInfo) -> Bool { op.kind == "linear" || op.kind.hasPrefix("conv") }

  public func begin(_ op: OpInfo, input: TensorView?) {
    if op.kind == "recompute" { recomputing += 1 }
    guard recomputing == 0, Self.isLayer(op), let input else { return }
    input.withFloats { body(op.name, .input, $0) }
  }

  public func end(_ op: OpInfo, output: TensorView?, shape: [Int]) {
    if op.kind == "recompute" { recomputing -= 1 }
    guard recomputing == 0, Self.isLayer(op), let output else { return }
    output.withFloats { body(op.name, .output, $0) }
  }
}

/// Named intermediates as whole float maps (pieces of a streamed map are joined in order), for
/// golden tests and tools.
public final class TensorRecorder: GraphObserver {
  public private(set) var tensors: [String: [Float]] = [:]
  /// Each tensor's shape (`[H, W, C]` for maps; pieces add up along the first dimension).
  public private(set) var shapes: [String: [Int]] = [:]
  public private(set) var order: [String] = []
  public init() {}
  public func tensor(_ name: String, _ view: TensorView, shape: [Int]) {
    if let s = shapes[name], !s.isEmpty, s.count == shape.count {
      shapes[name]![0] += shape[0]
    } else {
      order.append(name)
      shapes[name] = shape
    }
    tensors[name, default: []] += view.floats()
  }

  /// A recorded `[H, W, C]` map.
  public func map(_ name: String) -> FeatureMap? {
    guard let t = tensors[name], let s = shapes[name], s.count == 3 else { return nil }
    return FeatureMap(height: s[0], width: s[1], channels: s[2], data: t)
  }
}

extension InferenceContext {
  /// Runs `body` as an op, block or stage; `input` and `output` hand their views to `emit` (inside
  /// the buffers' access scopes). Nothing is built unless observed.
  @inline(__always)
  func op<T>(_ info: @autoclosure () -> OpInfo, input: (_ emit: (TensorView) -> Void) -> Void = { _ in },
             output: (T, _ emit: (TensorView) -> Void) -> Void = { _, _ in }, shape: (T) -> [Int] = { _ in [] },
             _ body: () -> T) -> T {
    guard let observer else { return body() }
    let i = info()
    var began = false
    input { observer.begin(i, input: $0); began = true }
    if !began { observer.begin(i, input: nil) }
    let result = body()
    let s = shape(result)
    var ended = false
    output(result) { observer.end(i, output: $0, shape: s); ended = true }
    if !ended { observer.end(i, output: nil, shape: s) }
    return result
  }

  /// A block or stage around `body`.
  @inline(__always)
  /// An op's description for the observer, built only when one is attached (nil otherwise): names are
  /// strings, and building them for every op was ~10 % of a frame's heap allocations (issue 19).
  /// Use sites unwrap it inside `observer?.…` calls, which do not evaluate their arguments without one.
  func info(_ make: @autoclosure () -> OpInfo) -> OpInfo? { observer == nil ? nil : make() }

  /// An observer that reads op values is attached (`GraphObserver.readsValues`): fused and streamed paths
  /// give way to op-by-op ones.
  var observesValues: Bool { observer?.readsValues ?? false }

  func span<T>(_ name: @autoclosure () -> String, _ kind: String, shape: (T) -> [Int] = { _ in [] }, _ body: () -> T) -> T {
    op(OpInfo(name: name(), kind: kind), shape: shape, body)
  }

  func begin(_ name: @autoclosure () -> String, _ kind: String) {
    observer?.begin(OpInfo(name: name(), kind: kind), input: nil)
  }

  func end(_ name: @autoclosure () -> String, _ kind: String, shape: @autoclosure () -> [Int] = []) {
    observer?.end(OpInfo(name: name(), kind: kind), output: nil, shape: shape())
  }

  /// Reports a named intermediate.
  func record(_ name: @autoclosure () -> String, _ map: borrowing FeatureMap) {
    guard let observer else { return }
    map.data.withUnsafeBufferPointer {
      observer.tensor(name(), .floats($0, columns: map.channels), shape: [map.height, map.width, map.channels])
    }
  }
}


extension GraphObserver {
  /// `begin` with a whole float map as the input.
  func begin(_ op: OpInfo, map: borrowing FeatureMap) {
    map.data.withUnsafeBufferPointer { begin(op, input: .floats($0, columns: map.channels)) }
  }

  /// `end` with a whole float map as the output.
  func end(_ op: OpInfo, map: borrowing FeatureMap) {
    map.data.withUnsafeBufferPointer { end(op, output: .floats($0, columns: map.channels), shape: [map.height, map.width, map.channels]) }
  }
}
