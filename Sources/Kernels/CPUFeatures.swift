// CPUFeatures: what the running CPU can execute, asked once at start-up and passed down as a value.
import _CKernels

/// The instruction-set extensions the kernels can use on this CPU.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
  public var hasAVX2FMA: Bool
  public var hasAVX512F: Bool
  public var hasAVX512VNNI: Bool
  /// arm64 with the dot-product extension (sdot/udot).
  public var hasNEONDotProd: Bool

  public init(hasAVX2FMA: Bool = false, hasAVX512F: Bool = false, hasAVX512VNNI: Bool = false, hasNEONDotProd: Bool = false) {
    self.hasAVX2FMA = hasAVX2FMA
    self.hasAVX512F = hasAVX512F
    self.hasAVX512VNNI = hasAVX512VNNI
    self.hasNEONDotProd = hasNEONDotProd
  }

  /// Queries the CPU (cpuid through `__builtin_cpu_supports`); all false off x86-64.
  public static func detect() -> CPUFeatures {
    CPUFeatures(hasAVX2FMA: es_cpu_has_avx2_fma() != 0, hasAVX512F: es_cpu_has_avx512f() != 0,
                hasAVX512VNNI: es_cpu_has_avx512vnni() != 0, hasNEONDotProd: es_cpu_has_neon_dotprod() != 0)
  }

  public var description: String {
    var names: [String] = []
    if hasAVX2FMA { names.append("avx2+fma") }
    if hasAVX512F { names.append("avx512f") }
    if hasAVX512VNNI { names.append("avx512vnni") }
    if hasNEONDotProd { names.append("neon+dotprod") }
    return names.isEmpty ? "portable only" : names.joined(separator: " ")
  }
}
