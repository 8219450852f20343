// Int8GEMM+Portable: the 8×16 microkernel in plain Swift over the packed panel (same arithmetic as
// vpdpbusd: (a + 128)·w summed into int32), for CPUs without a C microkernel.

extension Int8GEMM {
  @inline(__always)
  static func portableMicrokernel8x16(_ mr: Int, _ kq: Int, _ a: UnsafePointer<UnsafePointer<Int8>>, _ w: UnsafePointer<Int8>,
                                      _ c: UnsafeMutablePointer<Int32>, _ ldc: Int, _ accumulate: Bool) {
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: 16) { accBuf in
      let acc = accBuf.baseAddress!
      for r in 0..<mr {
        for j in 0..<16 { acc[j] = 0 }
        let ar = a[r]
        for q in 0..<kq {
          let wq = w + q * 64
          let u0 = Int32(ar[4 * q]) &+ 128, u1 = Int32(ar[4 * q + 1]) &+ 128
          let u2 = Int32(ar[4 * q + 2]) &+ 128, u3 = Int32(ar[4 * q + 3]) &+ 128
          for j in 0..<16 {
            acc[j] &+= u0 &* Int32(wq[4 * j]) &+ u1 &* Int32(wq[4 * j + 1]) &+ u2 &* Int32(wq[4 * j + 2]) &+ u3 &* Int32(wq[4 * j + 3])
          }
        }
        let row = c + r * ldc
        if accumulate {
          for j in 0..<16 { row[j] &+= acc[j] }
        } else {
          for j in 0..<16 { row[j] = acc[j] }
        }
      }
    }
  }
}
