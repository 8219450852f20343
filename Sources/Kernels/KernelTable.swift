// KernelTable: which implementation of each op a forward pass uses. Built once, passed down as a value.

/// The f32 GEMM implementations, named by ISA. `.reference` is the plain triple loop that defines truth.
public enum F32GEMMKernel: String, Sendable, CaseIterable {
  case reference, portable, avx2, avx512, neon

  /// Microkernel tile: rows of A (MR) and columns of the packed B panel (NR).
  var tile: (mr: Int, nr: Int) {
    switch self {
    case .reference, .portable: (4, 16)
    case .avx2, .neon: (6, 16)
    case .avx512: (8, 32)
    }
  }

  /// Whether `features` can run this kernel.
  public func isSupported(on features: CPUFeatures) -> Bool {
    switch self {
    case .reference, .portable: true
    case .avx2: features.hasAVX2FMA
    case .avx512: features.hasAVX512F
    case .neon: features.hasNEON
    }
  }
}

/// The kernels a forward pass dispatches to (one entry per op family).
public struct KernelTable: Sendable, Equatable {
  public var f32GEMM: F32GEMMKernel
  public var qs8GEMM: QS8GEMMKernel
  /// Float activations to int8 (`ActivationQuantizer`).
  public var quantize: QuantizeKernel
  /// Softmax attention (`Attention`: Swin windows, DETR).
  public var attention: AttentionKernel
  /// LayerNorm (`Norms.layerNorm`, `Norms.layerNormQuantized`).
  public var norm: NormKernel
  /// Swin window attention in int8 (`Attention.windowInt8`) where q, k and v are int8 layers; nil: the
  /// float attention everywhere.
  public var int8Attention: Int8AttentionKernel?
  /// 3×3 stride-1 int8 convs by exact integer Winograd F(2×2, 3×3) (`Int8Winograd`: the same bits as the
  /// direct conv): on with the AVX2 int8 tier, whose multiply already works on Int16; off elsewhere (VNNI and
  /// sdot multiply int8 at four times the Int16 rate, which the 2.25x fewer products do not repay).
  public var winograd: Bool

  /// `attention`, `norm` and `quantize` default to the f32 GEMM's ISA (AVX-512, AVX2 or NEON, portable otherwise;
  /// `reference` quantizes by the definition), `int8Attention` to
  /// the int8 GEMM's (VNNI with VNNI, sdot with the neondot and i8mm tiers, AVX2 with AVX2, else the portable loops).
  public init(f32GEMM: F32GEMMKernel, qs8GEMM: QS8GEMMKernel = .portable, quantize: QuantizeKernel? = nil,
              attention: AttentionKernel? = nil, norm: NormKernel? = nil, int8Attention: Int8AttentionKernel?? = nil) {
    self.f32GEMM = f32GEMM
    self.qs8GEMM = qs8GEMM
    self.quantize = quantize ?? (f32GEMM == .avx512 ? .avx512 : f32GEMM == .neon ? .neon : f32GEMM == .avx2 ? .avx2
      : f32GEMM == .reference ? .reference : .portable)
    self.attention = attention ?? (f32GEMM == .avx512 ? .avx512 : f32GEMM == .neon ? .neon : f32GEMM == .avx2 ? .avx2 : .portable)
    self.norm = norm ?? (f32GEMM == .avx512 ? .avx512 : f32GEMM == .neon ? .neon : f32GEMM == .avx2 ? .avx2 : .portable)
    self.int8Attention = int8Attention ?? (qs8GEMM == .avx512vnni ? .avx512vnni : qs8GEMM == .neondot || qs8GEMM == .neoni8mm ? .neondot
      : qs8GEMM == .avx2 ? .avx2 : .portable)
    self.winograd = qs8GEMM == .avx2
  }

  /// The fastest kernels `features` supports.
  public static func best(for features: CPUFeatures) -> KernelTable {
    let f32: [F32GEMMKernel] = [.avx512, .avx2, .neon, .portable]
    let qs8: [QS8GEMMKernel] = [.avx512vnni, .avx2, .neoni8mm, .neondot, .neon, .portable]
    return KernelTable(f32GEMM: f32.first { $0.isSupported(on: features) } ?? .portable,
                       qs8GEMM: qs8.first { $0.isSupported(on: features) } ?? .portable)
  }

  /// Kernels forced to one ISA by name (`--isa`): "auto", "reference", "portable", "avx2",
  /// "avx512" (f32 AVX-512 and int8 VNNI), and on arm64 "neon" (ARMv8.0 int8), "neondot" (int8 sdot),
  /// "i8mm" (int8 smmla), each with the NEON f32 GEMM. Nil for an unknown name or a missing ISA.
  public static func named(_ isa: String, features: CPUFeatures) -> KernelTable? {
    if isa == "auto" { return best(for: features) }
    let candidates: [String: KernelTable] = [
      "reference": KernelTable(f32GEMM: .reference, qs8GEMM: .reference),
      "portable": KernelTable(f32GEMM: .portable, qs8GEMM: .portable),
      "avx2": KernelTable(f32GEMM: .avx2, qs8GEMM: .avx2),
      "avx512": KernelTable(f32GEMM: .avx512, qs8GEMM: .avx512vnni),
      "neon": KernelTable(f32GEMM: .neon, qs8GEMM: .neon),
      "neondot": KernelTable(f32GEMM: .neon, qs8GEMM: .neondot),
      "i8mm": KernelTable(f32GEMM: .neon, qs8GEMM: .neoni8mm),
    ]
    guard let table = candidates[isa], table.f32GEMM.isSupported(on: features), table.qs8GEMM.isSupported(on: features) else {
      return nil
    }
    return table
  }
}
