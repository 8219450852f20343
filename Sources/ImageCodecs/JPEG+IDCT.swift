// IDCT: libjpeg's jpeg_idct_islow (jidctint.c): separable integer IDCT with 13-bit constants, 2 extra
// bits of precision between the passes, and the post-IDCT range-limit table (wrap at 1024, clamp).

enum IDCT {
  static let constBits = 13, pass1Bits = 2
  static let fix_0_298631336 = 2446, fix_0_390180644 = 3196, fix_0_541196100 = 4433, fix_0_765366865 = 6270
  static let fix_0_899976223 = 7373, fix_1_175875602 = 9633, fix_1_501321110 = 12299, fix_1_847759065 = 15137
  static let fix_1_961570560 = 16069, fix_2_053119869 = 16819, fix_2_562915447 = 20995, fix_3_072711026 = 25172

  @inline(__always) static func descale(_ x: Int, _ n: Int) -> Int { (x + (1 << (n - 1))) >> n }

  /// libjpeg's IDCT_range_limit[x & RANGE_MASK]: x + 128 clamped to 0...255, wrapping beyond ±512.
  @inline(__always) static func rangeLimit(_ x: Int) -> UInt8 {
    let m = x & 1023
    if m < 128 { return UInt8(m + 128) }
    if m < 512 { return 255 }
    if m < 896 { return 0 }
    return UInt8(m - 896)
  }

  /// One 8-point pass of jpeg_idct_islow on inputs x[0...7] (already scaled): the even part from
  /// x0, x2, x4, x6, the odd part from x1, x3, x5, x7; returns the 8 outputs before descaling, in order.
  @inline(__always)
  static func pass(_ x: (Int) -> Int) -> (Int, Int, Int, Int, Int, Int, Int, Int) {
    var z2 = x(2), z3 = x(6)
    var z1 = (z2 + z3) * fix_0_541196100
    let tmp2e = z1 + z3 * -fix_1_847759065
    let tmp3e = z1 + z2 * fix_0_765366865
    let tmp0e = (x(0) + x(4)) << constBits
    let tmp1e = (x(0) - x(4)) << constBits
    let tmp10 = tmp0e + tmp3e, tmp13 = tmp0e - tmp3e, tmp11 = tmp1e + tmp2e, tmp12 = tmp1e - tmp2e
    var tmp0 = x(7), tmp1 = x(5), tmp2 = x(3), tmp3 = x(1)
    z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2
    var z4 = tmp1 + tmp3
    let z5 = (z3 + z4) * fix_1_175875602
    tmp0 *= fix_0_298631336; tmp1 *= fix_2_053119869; tmp2 *= fix_3_072711026; tmp3 *= fix_1_501321110
    z1 *= -fix_0_899976223; z2 *= -fix_2_562915447; z3 *= -fix_1_961570560; z4 *= -fix_0_390180644
    z3 += z5; z4 += z5
    tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4
    return (tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0, tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3)
  }

  /// coef and quant in natural order; `store(row, col, sample)` receives the 64 outputs.
  static func islow(_ coef: [Int], _ quant: [Int], _ store: (Int, Int, UInt8) -> Void) {
    var ws = [Int](repeating: 0, count: 64)
    // Pass 1: columns, dequantized, kept with PASS1_BITS extra bits.
    for col in 0..<8 {
      func inp(_ r: Int) -> Int { coef[r * 8 + col] * quant[r * 8 + col] }
      if coef[8 + col] == 0 && coef[16 + col] == 0 && coef[24 + col] == 0 && coef[32 + col] == 0 &&
          coef[40 + col] == 0 && coef[48 + col] == 0 && coef[56 + col] == 0 {
        let dcval = inp(0) << pass1Bits
        for r in 0..<8 { ws[r * 8 + col] = dcval }
        continue
      }
      let o = pass(inp), s = constBits - pass1Bits
      ws[0 * 8 + col] = descale(o.0, s); ws[1 * 8 + col] = descale(o.1, s)
      ws[2 * 8 + col] = descale(o.2, s); ws[3 * 8 + col] = descale(o.3, s)
      ws[4 * 8 + col] = descale(o.4, s); ws[5 * 8 + col] = descale(o.5, s)
      ws[6 * 8 + col] = descale(o.6, s); ws[7 * 8 + col] = descale(o.7, s)
    }
    // Pass 2: rows, descaled by 8 and PASS1_BITS, range-limited.
    let shift = constBits + pass1Bits + 3
    for row in 0..<8 {
      let w = row * 8
      if ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0 && ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0 {
        let v = rangeLimit(descale(ws[w], pass1Bits + 3))
        for c in 0..<8 { store(row, c, v) }
        continue
      }
      let o = pass { ws[w + $0] }
      store(row, 0, rangeLimit(descale(o.0, shift))); store(row, 1, rangeLimit(descale(o.1, shift)))
      store(row, 2, rangeLimit(descale(o.2, shift))); store(row, 3, rangeLimit(descale(o.3, shift)))
      store(row, 4, rangeLimit(descale(o.4, shift))); store(row, 5, rangeLimit(descale(o.5, shift)))
      store(row, 6, rangeLimit(descale(o.6, shift))); store(row, 7, rangeLimit(descale(o.7, shift)))
    }
  }
}
