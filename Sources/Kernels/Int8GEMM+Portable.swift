// Int8GEMM+Portable: the 8×16 microkernel in plain Swift over the packed panel (same arithmetic as
// vpdpbusd: (a + 128)·w summed into int32), for CPUs without a C microkernel.
// The 64 weight bytes of a k-quad are multiplied element-wise by the row's 4 activations repeated
// 16 times, into 64 int32 partial sums (a contiguous loop the compiler vectorizes: the int16 product
// of (a + 128) ≤ 255 and |w| ≤ 127 cannot overflow); each column's 4 partials are summed at the end.

extension Int8GEMM {
  @inline(__always)
  static func portableMicrokernel8x16(_ mr: Int, _ kq: Int, _ a: UnsafePointer<UnsafePointer<Int8>>, _ w: UnsafePointer<Int8>,
                                      _ c: UnsafeMutablePointer<Int32>, _ ldc: Int, _ accumulate: Bool) {
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: 64) { accBuf in
      withUnsafeTemporaryAllocation(of: Int16.self, capacity: 64) { uBuf in
        let acc = accBuf.baseAddress!, u = uBuf.baseAddress!
        for r in 0..<mr {
          for m in 0..<64 { acc[m] = 0 }
          let ar = a[r]
          for q in 0..<kq {
            let u0 = Int16(ar[4 * q]) &+ 128, u1 = Int16(ar[4 * q + 1]) &+ 128
            let u2 = Int16(ar[4 * q + 2]) &+ 128, u3 = Int16(ar[4 * q + 3]) &+ 128
            for j in 0..<16 {
              u[4 * j] = u0; u[4 * j + 1] = u1; u[4 * j + 2] = u2; u[4 * j + 3] = u3
            }
            let wq = w + q * 64
            for m in 0..<64 { acc[m] &+= Int32(u[m] &* Int16(wq[m])) }
          }
          let row = c + r * ldc
          for j in 0..<16 {
            let s = acc[4 * j] &+ acc[4 * j + 1] &+ acc[4 * j + 2] &+ acc[4 * j + 3]
            row[j] = accumulate ? row[j] &+ s : s
          }
        }
      }
    }
  }
}
