// PNM: binary PGM (P5) and PPM (P6) with maxval up to 65535 (16-bit samples keep their high byte;
// other maxvals scale to 0-255 with rounding).

enum PNM {
  static func decode(_ b: [UInt8], limits: DecodeLimits) throws(ImageError) -> Image {
    var pos = 2
    func next() throws(ImageError) -> Int {
      while pos < b.count {
        if b[pos] == UInt8(ascii: "#") {
          while pos < b.count && b[pos] != 10 && b[pos] != 13 { pos += 1 }
        } else if b[pos] == 32 || (9...13).contains(b[pos]) {
          pos += 1
        } else {
          break
        }
      }
      var v = 0, digits = 0
      while pos < b.count, (48...57).contains(b[pos]) {
        v = v * 10 + Int(b[pos] - 48)
        digits += 1
        pos += 1
        guard v < 1 << 30 else { throw .malformed("PNM header number is too large") }
      }
      guard digits > 0 else { throw .malformed("PNM header is truncated or not numeric") }
      return v
    }
    let gray = b[1] == UInt8(ascii: "5")
    let w = try next(), h = try next(), maxval = try next()
    guard (1...65535).contains(maxval) else { throw .malformed("PNM maxval \(maxval) is outside 1...65535") }
    try limits.check(width: w, height: h)
    pos += 1  // exactly one whitespace byte after maxval
    let ch = gray ? 1 : 3, bps = maxval > 255 ? 2 : 1, n = w * h * ch
    guard pos + n * bps <= b.count else { throw .malformed("PNM pixel data is truncated: \(b.count - pos) of \(n * bps) bytes") }
    var out = [UInt8](repeating: 0, count: n)
    for i in 0..<n {
      let v = bps == 2 ? Int(b[pos + 2 * i]) << 8 | Int(b[pos + 2 * i + 1]) : Int(b[pos + i])
      out[i] = maxval == 255 ? UInt8(v) : maxval == 65535 ? UInt8(v >> 8) : UInt8(min(255, (v * 255 + maxval / 2) / maxval))
    }
    return Image(width: w, height: h, layout: gray ? .gray : .rgb, pixels: out)
  }
}
