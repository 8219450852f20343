// InferenceContext: what a forward pass runs with besides the weights: kernels, threads, the arena and
// the streaming settings, and an optional observer (Instrumentation.swift). Passed down, never global.
import Kernels

public struct InferenceContext {
  public var kernels: KernelTable
  public var threads: Int
  /// Drop each weight's pages after its layer ran (a single forward pass, calibration: keeps a mapped
  /// model from becoming resident all at once). Costs re-reading weights on the next forward.
  public var releaseWeightsAfterUse = false
  /// Swin blocks run on at most this many tokens at a time (whole windows for attention), which
  /// bounds their transient buffers; the result does not depend on it. `Int.max`: whole maps.
  public var tokenChunk = 4096
  /// The stride-4 pixel-decoder maps are streamed in bands of this many rows when the map is taller
  /// (costs a recompute of the lateral and 3×3 convs for the GroupNorm statistics); the result does
  /// not depend on it. `Int.max`: whole maps.
  public var bandRows = Int.max
  /// Where activation buffers come from (`Arena`); nil: the heap.
  public var arena: Arena?
  /// Sees every op, block, stage and named intermediate (profiler, calibration, drift); never
  /// changes what is computed.
  public var observer: (any GraphObserver)?

  /// A dry run (the arena is `Arena.dryRun()`): every buffer is requested as in a real run, no kernel
  /// or data loop runs. Blocks guard their data loops with it, never their allocations.
  var isDryRun: Bool { arena?.isDryRun == true }

  public init(kernels: KernelTable, threads: Int) {
    precondition(threads >= 1, "threads must be >= 1, got \(threads)")
    self.kernels = kernels
    self.threads = threads
  }

  /// `count` floats from the arena, every one written by `initialize`.
  func floats(_ count: Int, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) -> ArenaArray<Float> {
    ArenaArray(unsafeUninitializedCount: count, in: arena, initializingWith: initialize)
  }

  func zeros(_ count: Int) -> ArenaArray<Float> { ArenaArray(repeating: 0, count: count, in: arena) }

}
