// KernelTable: which implementation of each op a forward pass uses. Built once, passed down as a value.

/// The f32 GEMM implementations, named by ISA. `.reference` is the plain triple loop that defines truth.
public enum F32GEMMKernel: String, Sendable, CaseIterable {
  case reference, portable, avx2, avx512

  /// Microkernel tile: rows of A (MR) and columns of the packed B panel (NR).
  var tile: (mr: Int, nr: Int) {
    switch self {
    case .reference, .portable: (4, 16)
    case .avx2: (6, 16)
    case .avx512: (8, 32)
    }
  }

  /// Whether `features` can run this kernel.
  public func isSupported(on features: CPUFeatures) -> Bool {
    switch self {
    case .reference, .portable: true
    case .avx2: features.hasAVX2FMA
    case .avx512: features.hasAVX512F
    }
  }
}

/// The kernels a forward pass dispatches to (one entry per op family).
public struct KernelTable: Sendable, Equatable {
  public var f32GEMM: F32GEMMKernel

  public init(f32GEMM: F32GEMMKernel) { self.f32GEMM = f32GEMM }

  /// The fastest kernels `features` supports.
  public static func best(for features: CPUFeatures) -> KernelTable {
    let order: [F32GEMMKernel] = [.avx512, .avx2, .portable]
    return KernelTable(f32GEMM: order.first { $0.isSupported(on: features) } ?? .portable)
  }

  /// Kernels forced to one ISA by name (`--isa`): "portable", "avx2", "avx512", "reference", "auto".
  /// Returns nil for an unknown name or an ISA the CPU lacks.
  public static func named(_ isa: String, features: CPUFeatures) -> KernelTable? {
    if isa == "auto" { return best(for: features) }
    guard let k = F32GEMMKernel(rawValue: isa), k.isSupported(on: features) else { return nil }
    return KernelTable(f32GEMM: k)
  }
}
