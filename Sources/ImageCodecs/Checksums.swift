// CRC-32 (ISO-HDLC, as PNG and zlib's crc32) and Adler-32 (zlib). The CRC table is built per use:
// 256 entries, no global state.

struct CRC32 {
  let table: [UInt32]

  init() {
    var t = [UInt32](repeating: 0, count: 256)
    for n in 0..<256 {
      var c = UInt32(n)
      for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      t[n] = c
    }
    table = t
  }

  /// CRC of `bytes`, continuing from `crc` (0 to start).
  func update(_ crc: UInt32, _ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c = ~crc
    for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return ~c
  }
}

/// Adler-32 of `bytes`.
func adler32(_ bytes: [UInt8]) -> UInt32 {
  var a: UInt32 = 1, b: UInt32 = 0
  var i = 0
  while i < bytes.count {
    let end = min(bytes.count, i + 5552)  // largest n with no UInt32 overflow before the modulo
    while i < end {
      a &+= UInt32(bytes[i])
      b &+= a
      i += 1
    }
    a %= 65521
    b %= 65521
  }
  return b << 16 | a
}
