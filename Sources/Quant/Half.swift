// Half: IEEE binary16 <-> binary32 conversions in plain integer code (Float16 is not available on
// every platform Swift targets), exact for every value.

public enum Half {
  /// binary16 → binary32, exact (subnormals, infinities and NaN included).
  public static func toFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1F), frac = UInt32(h & 0x3FF)
    if exp == 0 { return Float(sign: sign != 0 ? .minus : .plus, exponent: -24, significand: Float(frac)) }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
  }

  /// binary32 → binary16, round to nearest even; overflow → ±infinity, NaN stays NaN.
  public static func fromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF), mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
      if e < -10 { return sign }
      let m = mant | 0x80_0000
      let shift = UInt32(14 - e)
      var h = m >> shift
      let rem = m & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
      if rem > half || (rem == half && h & 1 == 1) { h += 1 }
      return sign | UInt16(h)
    }
    var h = UInt32(e) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) { h += 1 }
    return sign | UInt16(truncatingIfNeeded: h)
  }
}
