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

  /// coef and quant in natural order; `store(row, col, sample)` receives the 64 outputs.
  static func islow(_ coef: [Int], _ quant: [Int], _ store: (Int, Int, UInt8) -> Void) {
    var ws = [Int](repeating: 0, count: 64)
    for col in 0..<8 {
      func inp(_ r: Int) -> Int { coef[r * 8 + col] * quant[r * 8 + col] }
      if coef[8 + col] == 0 && coef[16 + col] == 0 && coef[24 + col] == 0 && coef[32 + col] == 0 &&
          coef[40 + col] == 0 && coef[48 + col] == 0 && coef[56 + col] == 0 {
        let dcval = inp(0) << pass1Bits
        for r in 0..<8 { ws[r * 8 + col] = dcval }
        continue
      }
      var z2 = inp(2), z3 = inp(6)
      var z1 = (z2 + z3) * fix_0_541196100
      let tmp2e = z1 + z3 * -fix_1_847759065
      let tmp3e = z1 + z2 * fix_0_765366865
      z2 = inp(0); z3 = inp(4)
      let tmp0e = (z2 + z3) << constBits
      let tmp1e = (z2 - z3) << constBits
      let tmp10 = tmp0e + tmp3e, tmp13 = tmp0e - tmp3e, tmp11 = tmp1e + tmp2e, tmp12 = tmp1e - tmp2e
      var tmp0 = inp(7), tmp1 = inp(5), tmp2 = inp(3), tmp3 = inp(1)
      z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2
      var z4 = tmp1 + tmp3
      let z5 = (z3 + z4) * fix_1_175875602
      tmp0 *= fix_0_298631336; tmp1 *= fix_2_053119869; tmp2 *= fix_3_072711026; tmp3 *= fix_1_501321110
      z1 *= -fix_0_899976223; z2 *= -fix_2_562915447; z3 *= -fix_1_961570560; z4 *= -fix_0_390180644
      z3 += z5; z4 += z5
      tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4
      let s = constBits - pass1Bits
      ws[0 * 8 + col] = descale(tmp10 + tmp3, s); ws[7 * 8 + col] = descale(tmp10 - tmp3, s)
      ws[1 * 8 + col] = descale(tmp11 + tmp2, s); ws[6 * 8 + col] = descale(tmp11 - tmp2, s)
      ws[2 * 8 + col] = descale(tmp12 + tmp1, s); ws[5 * 8 + col] = descale(tmp12 - tmp1, s)
      ws[3 * 8 + col] = descale(tmp13 + tmp0, s); ws[4 * 8 + col] = descale(tmp13 - tmp0, s)
    }
    let shift = constBits + pass1Bits + 3
    for row in 0..<8 {
      let w = row * 8
      if ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0 && ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0 {
        let v = rangeLimit(descale(ws[w], pass1Bits + 3))
        for c in 0..<8 { store(row, c, v) }
        continue
      }
      var z2 = ws[w + 2], z3 = ws[w + 6]
      var z1 = (z2 + z3) * fix_0_541196100
      let tmp2e = z1 + z3 * -fix_1_847759065
      let tmp3e = z1 + z2 * fix_0_765366865
      let tmp0e = (ws[w] + ws[w + 4]) << constBits
      let tmp1e = (ws[w] - ws[w + 4]) << constBits
      let tmp10 = tmp0e + tmp3e, tmp13 = tmp0e - tmp3e, tmp11 = tmp1e + tmp2e, tmp12 = tmp1e - tmp2e
      var tmp0 = ws[w + 7], tmp1 = ws[w + 5], tmp2 = ws[w + 3], tmp3 = ws[w + 1]
      z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2
      var z4 = tmp1 + tmp3
      let z5 = (z3 + z4) * fix_1_175875602
      tmp0 *= fix_0_298631336; tmp1 *= fix_2_053119869; tmp2 *= fix_3_072711026; tmp3 *= fix_1_501321110
      z1 *= -fix_0_899976223; z2 *= -fix_2_562915447; z3 *= -fix_1_961570560; z4 *= -fix_0_390180644
      z3 += z5; z4 += z5
      tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4
      store(row, 0, rangeLimit(descale(tmp10 + tmp3, shift))); store(row, 7, rangeLimit(descale(tmp10 - tmp3, shift)))
      store(row, 1, rangeLimit(descale(tmp11 + tmp2, shift))); store(row, 6, rangeLimit(descale(tmp11 - tmp2, shift)))
      store(row, 2, rangeLimit(descale(tmp12 + tmp1, shift))); store(row, 5, rangeLimit(descale(tmp12 - tmp1, shift)))
      store(row, 3, rangeLimit(descale(tmp13 + tmp0, shift))); store(row, 4, rangeLimit(descale(tmp13 - tmp0, shift)))
    }
  }
}
