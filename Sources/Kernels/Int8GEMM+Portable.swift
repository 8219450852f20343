// Int8GEMM+Portable: the int8 GEMM tier for CPUs without a C microkernel, in plain Swift that the
// compiler vectorizes (SSE2 on baseline x86-64, NEON on arm64, whatever a new target has). Signed
// activations times signed weights (the "signed A" contract: no +128, so the correction has no 128·Σw).
//
// Each task widens its rows (up to 64, every segment) and then each panel's weights to Int16 once, and
// the microkernel multiplies a row's k-quad, repeated twice (a0 a1 a2 a3 a0 a1 a2 a3: one 8-byte load),
// by the 8 vectors of 8 Int16 that hold the quad's 16 columns × 4 k: `SIMD8<Int32>(x) &* SIMD8<Int32>(w)`
// with its even and odd halves added is the shape LLVM turns into one pmaddwd (x86) or smull/smlal pairs
// (arm64): each int32 lane is a·w + a·w of one column (|.| ≤ 2·128·128 = 32768: exact). Two rows at a
// time share the weight loads. Earlier forms: plain loops (one Int16 multiply per product, widened one
// by one) ran at 5-9 GMAC/s per core; this kernel widening each row's quad in the inner loop at 18-25.

extension Int8GEMM {
  /// `p` on the portable tier: tasks of up to 64 rows × a group of panels, as `runRows`.
  static func runPortable(_ p: Int8GEMMProblem, corr: UnsafePointer<Int32>, scales: UnsafePointer<Float>, threads: Int) {
    let w = p.weights, mr = QS8GEMMKernel.mr, nseg = p.segments.count, blockRows = mr * 8
    let kqs = p.segments.map { ($0 + 3) / 4 }, kq = kqs.reduce(0, +)
    let (blocks, groups, perGroup) = tasks(p, blockRows: blockRows, threads: threads)
    parallelFor(blocks * groups, threads: threads) { task in
      let m0 = (task / groups) * blockRows, m1 = Swift.min(p.m, m0 + blockRows)
      let p0 = (task % groups) * perGroup, p1 = Swift.min(w.panels, p0 + perGroup)
      guard p0 < p1 else { return }
      withUnsafeTemporaryAllocation(of: SIMD8<Int16>.self, capacity: kq * 8) { wideBuf in
        withUnsafeTemporaryAllocation(of: SIMD4<Int16>.self, capacity: blockRows * kq) { rowsBuf in
          withUnsafeTemporaryAllocation(of: Int32.self, capacity: mr * 16) { tileBuf in
            let wide = wideBuf.baseAddress!, aw = rowsBuf.baseAddress!, tile = tileBuf.baseAddress!
            // The task's rows widened to Int16 once, every segment's quads in order (row r at r·kq),
            // reused by every panel: the microkernel then reads a row's quad with one 8-byte load.
            UnsafeMutableRawPointer(aw).withMemoryRebound(to: Int16.self, capacity: blockRows * kq * 4) { dst in
              for r in 0..<(m1 - m0) {
                var q0 = 0
                for s in 0..<nseg {
                  let src = p.aRow(m0 + r, s), d = dst + (r * kq + q0) * 4
                  for i in 0..<(kqs[s] * 4) { d[i] = Int16(src[i]) }
                  q0 += kqs[s]
                }
              }
            }
            for panel in p0..<p1 {
              // The panel's quads are contiguous: 64 bytes each, all segments in order.
              let src = w.group(panel: panel, k: 0)
              UnsafeMutableRawPointer(wide).withMemoryRebound(to: Int16.self, capacity: kq * 64) { dst in
                for i in 0..<(kq * 64) { dst[i] = Int16(src[i]) }
              }
              var t = m0
              while t < m1 {
                let rowCount = Swift.min(mr, m1 - t)
                portableMicrokernel8x16(rowCount, kq, aw + (t - m0) * kq, wide, tile, 16)
                epilogue(p, tile: tile, ldt: 16, rows: t..<(t + rowCount), c0: panel * 16, cols: Swift.min(16, w.n - panel * 16),
                         corr: corr, scales: scales, kernel: .portable)
                t += mr
              }
            }
          }
        }
      }
    }
  }

  /// `c[r][j] = Σ_q Σ_t a_r[4q + t]·w[q][j][t]` for r < mr ≤ 8, j < 16, with `a` the rows' quads widened
  /// to Int16 (row r's at r·kq) and `w` the panel's quads widened to Int16 (8 vectors per quad: vector g
  /// holds columns 2g and 2g + 1).
  // Optimized in every build: at -Onone each SIMD operation is a generic call (the debug test suite spent
  // minutes here).
  @_optimize(speed)
  static func portableMicrokernel8x16(_ mr: Int, _ kq: Int, _ a: UnsafePointer<SIMD4<Int16>>, _ w: UnsafePointer<SIMD8<Int16>>,
                                      _ c: UnsafeMutablePointer<Int32>, _ ldc: Int) {
    @inline(__always) func madd(_ x: SIMD8<Int16>, _ y: SIMD8<Int16>) -> SIMD4<Int32> {
      let p = SIMD8<Int32>(truncatingIfNeeded: x) &* SIMD8<Int32>(truncatingIfNeeded: y)
      return p.evenHalf &+ p.oddHalf
    }
    var r0 = 0
    while r0 < mr {
      let ra = a + r0 * kq, rb = a + Swift.min(r0 + 1, mr - 1) * kq
      for half in 0..<2 {
        var s0 = (SIMD4<Int32>(), SIMD4<Int32>(), SIMD4<Int32>(), SIMD4<Int32>())
        var s1 = s0
        for q in 0..<kq {
          let qa = ra[q], qb = rb[q]
          let x0 = SIMD8(lowHalf: qa, highHalf: qa), x1 = SIMD8(lowHalf: qb, highHalf: qb), wq = w + q * 8 + 4 * half
          let w0 = wq[0], w1 = wq[1], w2 = wq[2], w3 = wq[3]
          s0.0 &+= madd(x0, w0); s0.1 &+= madd(x0, w1); s0.2 &+= madd(x0, w2); s0.3 &+= madd(x0, w3)
          s1.0 &+= madd(x1, w0); s1.1 &+= madd(x1, w1); s1.2 &+= madd(x1, w2); s1.3 &+= madd(x1, w3)
        }
        @inline(__always) func store(_ row: UnsafeMutablePointer<Int32>, _ s: (SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>)) {
          let sums = [s.0, s.1, s.2, s.3]
          for g in 0..<4 {
            row[2 * g] = sums[g][0] &+ sums[g][1]
            row[2 * g + 1] = sums[g][2] &+ sums[g][3]
          }
        }
        store(c + r0 * ldc + 8 * half, s0)
        if r0 + 1 < mr { store(c + (r0 + 1) * ldc + 8 * half, s1) }
      }
      r0 += 2
    }
  }
}
