// InferenceContext: everything a forward pass uses besides the weights (kernel table, thread count,
// an optional probe that sees named intermediate tensors in graph order). Passed down, never global.
import Kernels

public struct InferenceContext {
  public var kernels: KernelTable
  public var threads: Int
  /// Called with each named intermediate (stage features, FPN maps, ...) as it is produced.
  public var probe: ((String, FeatureMap) -> Void)?
  /// Drop each weight's pages after its layer ran (calibration: keeps a mapped checkpoint from
  /// becoming resident all at once). Costs re-reading weights on the next forward.
  public var releaseWeightsAfterUse = false
  /// Called with the input and the output of every Linear and convolution (calibration, drift).
  public var observer: ((_ layer: String, _ tap: LayerTap, _ values: UnsafeBufferPointer<Float>) -> Void)?
  /// Swin blocks run on at most this many tokens at a time (whole windows for attention), which
  /// bounds their transient buffers; the result does not depend on it. `Int.max`: whole maps.
  public var tokenChunk = 4096
  /// The stride-4 pixel-decoder maps are streamed in bands of this many rows when the map is taller
  /// (costs a recompute of the lateral and 3×3 convs for the GroupNorm statistics); the result does
  /// not depend on it. `Int.max`: whole maps.
  public var bandRows = Int.max
  /// Records a span per op and block (`edge-seg profile`).
  public var profiler: Profiler?
  /// Where activation buffers come from (`Arena.sized(for:)`); nil: the heap.
  public var arena: Arena?

  public init(kernels: KernelTable, threads: Int, probe: ((String, FeatureMap) -> Void)? = nil) {
    precondition(threads >= 1, "threads must be >= 1, got \(threads)")
    self.kernels = kernels
    self.threads = threads
    self.probe = probe
  }

  func observe(_ layer: String, _ tap: LayerTap, _ values: UnsafeBufferPointer<Float>) {
    if let observer { observer(layer, tap, values) }
  }

  func record(_ name: String, _ map: @autoclosure () -> FeatureMap) {
    if let probe { probe(name, map()) }
  }

  /// `count` floats from the arena, every one written by `initialize`.
  func floats(_ count: Int, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) -> ArenaArray<Float> {
    ArenaArray(unsafeUninitializedCount: count, in: arena, initializingWith: initialize)
  }

  func zeros(_ count: Int) -> ArenaArray<Float> { ArenaArray(repeating: 0, count: count, in: arena) }

  /// `a + b`, element by element.
  func sum(_ a: ArenaArray<Float>, _ b: ArenaArray<Float>) -> ArenaArray<Float> {
    precondition(a.count == b.count, "sum: \(a.count) vs \(b.count) floats")
    return a.withUnsafeBufferPointer { ab in
      b.withUnsafeBufferPointer { bb in floats(a.count) { for i in 0..<a.count { $0[i] = ab[i] + bb[i] } } }
    }
  }
}

/// Which side of a layer an observer sees.
public enum LayerTap: Sendable, Equatable {
  case input, output
}
