// CPUFeatures: what the running CPU can execute, asked once at start-up and passed down as a value.
import _CKernels

/// The instruction-set extensions the kernels can use on this CPU.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
  public var hasAVX2FMA: Bool
  public var hasAVX512F: Bool
  public var hasAVX512VNNI: Bool
  /// arm64 (Advanced SIMD is part of the architecture: every arm64 CPU).
  public var hasNEON: Bool
  /// arm64 with the dot-product extension (ARMv8.2 FEAT_DotProd: sdot/udot).
  public var hasNEONDotProd: Bool
  /// arm64 with the int8 matrix-multiply extension (ARMv8.6 FEAT_I8MM: smmla).
  public var hasNEONI8MM: Bool

  public init(hasAVX2FMA: Bool = false, hasAVX512F: Bool = false, hasAVX512VNNI: Bool = false, hasNEON: Bool = false,
              hasNEONDotProd: Bool = false, hasNEONI8MM: Bool = false) {
    self.hasAVX2FMA = hasAVX2FMA
    self.hasAVX512F = hasAVX512F
    self.hasAVX512VNNI = hasAVX512VNNI
    self.hasNEON = hasNEON
    self.hasNEONDotProd = hasNEONDotProd
    self.hasNEONI8MM = hasNEONI8MM
  }

  /// Queries the CPU: cpuid through `__builtin_cpu_supports` on x86-64; on arm64 the hardware-capability
  /// bits (Linux, getauxval) or the hw.optional.arm sysctls (Apple platforms).
  public static func detect() -> CPUFeatures {
    CPUFeatures(hasAVX2FMA: es_cpu_has_avx2_fma() != 0, hasAVX512F: es_cpu_has_avx512f() != 0,
                hasAVX512VNNI: es_cpu_has_avx512vnni() != 0, hasNEON: es_cpu_has_neon() != 0,
                hasNEONDotProd: es_cpu_has_neon_dotprod() != 0, hasNEONI8MM: es_cpu_has_neon_i8mm() != 0)
  }

  public var description: String {
    var names: [String] = []
    if hasAVX2FMA { names.append("avx2+fma") }
    if hasAVX512F { names.append("avx512f") }
    if hasAVX512VNNI { names.append("avx512vnni") }
    if hasNEON { names.append("neon") }
    if hasNEONDotProd { names.append("dotprod") }
    if hasNEONI8MM { names.append("i8mm") }
    return names.isEmpty ? "portable only" : names.joined(separator: " ")
  }
}
