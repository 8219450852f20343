// InferenceContext: everything a forward pass uses besides the weights (kernel table, thread count,
// an optional probe that sees named intermediate tensors in graph order). Passed down, never global.
import Kernels

public struct InferenceContext {
  public var kernels: KernelTable
  public var threads: Int
  /// Called with each named intermediate (stage features, FPN maps, ...) as it is produced.
  public var probe: ((String, FeatureMap) -> Void)?

  public init(kernels: KernelTable, threads: Int, probe: ((String, FeatureMap) -> Void)? = nil) {
    precondition(threads >= 1, "threads must be >= 1, got \(threads)")
    self.kernels = kernels
    self.threads = threads
    self.probe = probe
  }

  func record(_ name: String, _ map: @autoclosure () -> FeatureMap) {
    if let probe { probe(name, map()) }
  }
}
