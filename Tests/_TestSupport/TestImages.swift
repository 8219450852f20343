// Hand-made image bytes for malformed-input tests.

public enum TestImages {
  /// A PNG signature and an IHDR chunk (8-bit RGB) declaring width x height, with a valid CRC and
  /// no image data: decoders must refuse it (or its dimensions) without allocating the pixels.
  public static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
    var ihdr: [UInt8] = Array("IHDR".utf8)
    for v in [width, height] { ihdr += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    ihdr += [8, 2, 0, 0, 0]
    var crc: UInt32 = 0xFFFF_FFFF
    for b in ihdr {
      crc ^= UInt32(b)
      for _ in 0..<8 { crc = crc & 1 != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
    crc = ~crc
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + ihdr
      + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
  }
}
