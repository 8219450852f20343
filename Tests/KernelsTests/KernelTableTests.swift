// KernelTable: tiers by name (`--isa`), refused where the CPU lacks them, and the dispatcher's choice.
import Foundation
import Kernels
import Testing

@Suite struct KernelTableNamedTests {
  @Test func autoIsBest() {
    let f = CPUFeatures.detect()
    #expect(KernelTable.named("auto", features: f) == KernelTable.best(for: f))
    #expect(KernelTable.named("avx512", features: f) != nil || !f.hasAVX512VNNI)
  }

  /// The best int8 tier of each arm64 feature level, and of x86's.
  @Test func bestInt8TierPerFeatureLevel() {
    #expect(KernelTable.best(for: CPUFeatures(hasNEON: true)).qs8GEMM == .neon)
    #expect(KernelTable.best(for: CPUFeatures(hasNEON: true, hasNEONDotProd: true)).qs8GEMM == .neondot)
    #expect(KernelTable.best(for: CPUFeatures(hasNEON: true, hasNEONDotProd: true, hasNEONI8MM: true)).qs8GEMM == .neoni8mm)
    #expect(KernelTable.best(for: CPUFeatures(hasAVX2FMA: true)).qs8GEMM == .avx2)
    #expect(KernelTable.best(for: CPUFeatures(hasAVX2FMA: true, hasAVX512F: true, hasAVX512VNNI: true)).qs8GEMM == .avx512vnni)
    #expect(KernelTable.best(for: CPUFeatures()).qs8GEMM == .portable)
    #expect(KernelTable.named("i8mm", features: CPUFeatures(hasNEON: true, hasNEONDotProd: true)) == nil, "no smmla without FEAT_I8MM")
  }

  /// The float ops follow the f32 GEMM's ISA: NEON attention, LayerNorm and quantization on every arm64.
  @Test func floatTiersFollowTheGEMM() {
    for f in [CPUFeatures(hasNEON: true), CPUFeatures(hasNEON: true, hasNEONDotProd: true, hasNEONI8MM: true)] {
      let t = KernelTable.best(for: f)
      #expect(t.f32GEMM == .neon && t.attention == .neon && t.norm == .neon && t.quantize == .neon, "\(t)")
      #expect(t.int8Attention == (f.hasNEONDotProd ? .neondot : .portable), "\(t)")
    }
    let x = KernelTable.best(for: CPUFeatures(hasAVX2FMA: true, hasAVX512F: true, hasAVX512VNNI: true))
    #expect(x.attention == .avx512 && x.norm == .avx512 && x.quantize == .avx512)
    let p = KernelTable.best(for: CPUFeatures())
    #expect(p.attention == .portable && p.norm == .portable && p.quantize == .portable)
  }

  /// On the machine at hand: the tier the dispatcher picks from the detected features. Under
  /// tools/arm64/run.sh's `tiers` step, EDGE_SEG_EXPECT_INT8_TIER names the tier the emulated CPU model
  /// must get (neon on cortex-a72, neondot on cortex-a76, neoni8mm on max).
  @Test func detectedTierIsTheExpectedOne() {
    let f = CPUFeatures.detect(), tier = KernelTable.best(for: f).qs8GEMM
    #if arch(arm64)
    #expect(f.hasNEON)
    let t = KernelTable.best(for: f)
    #expect(t.attention == .neon && t.norm == .neon && t.quantize == .neon, "\(t)")
    #endif
    if let expected = ProcessInfo.processInfo.environment["EDGE_SEG_EXPECT_INT8_TIER"] {
      #expect(tier.rawValue == expected, "features \(f) gave \(tier), expected \(expected)")
    }
  }
}
