// F32GEMM+Portable: the 4×16 microkernel in plain Swift, for CPUs without a C microkernel.
// Plain loops over UnsafePointer so that the 16-wide inner loop auto-vectorizes on any target; one
// fused multiply-add per k (`addingProduct`), as the C tiers do, so that every tier gives the same bits
// (arm64 has FMA in its base ISA; baseline x86-64 does not, and there each is a call to libm's exact
// fmaf: slow, but only CPUs without AVX2 run this tier there).

extension F32GEMM {
  /// `C[r][j] (+)= Σ_k a[r][k]·b[k·16 + j]` for r < mr ≤ 4, j < nr ≤ 16; b is a packed 16-wide panel.
  @inline(__always)
  static func portableMicrokernel4x16(_ mr: Int, _ nr: Int, _ kc: Int, _ a: UnsafePointer<UnsafePointer<Float>>,
                                      _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                      _ accumulate: Bool) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { accBuf in
      let acc = accBuf.baseAddress!
      for r in 0..<mr {
        for j in 0..<16 { acc[j] = 0 }
        let ar = a[r]
        for k in 0..<kc {
          let x = ar[k]
          let bk = b + k * 16
          for j in 0..<16 { acc[j] = acc[j].addingProduct(x, bk[j]) }
        }
        let row = c + r * ldc
        if accumulate {
          for j in 0..<nr { row[j] += acc[j] }
        } else {
          for j in 0..<nr { row[j] = acc[j] }
        }
      }
    }
  }
}
