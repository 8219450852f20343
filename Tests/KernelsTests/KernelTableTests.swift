// KernelTable: tiers by name (`--isa`), refused where the CPU lacks them.
import Kernels
import Testing

@Suite struct KernelTableNamedTests {
  @Test func autoIsBest() {
    let f = CPUFeatures.detect()
    #expect(KernelTable.named("auto", features: f) == KernelTable.best(for: f))
    #expect(KernelTable.named("avx512", features: f) != nil || !f.hasAVX512VNNI)
  }
}
