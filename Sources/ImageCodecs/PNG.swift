// PNG decoder (all colour types, bit depths 1-16, PLTE, tRNS, Adam7, CRC and Adler checks) to 8-bit
// channels the way Pillow presents them, and an encoder with real deflate compression.
// Spec: https://www.w3.org/TR/png-3/

public enum PNG {
  static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

  struct Header {
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
    var channels: Int {
      switch colorType {
      case 0, 3: 1
      case 2: 3
      case 4: 2
      default: 4
      }
    }
    var bitsPerPixel: Int { channels * bitDepth }
    func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }
  }

  /// Decodes to 8-bit channels. 16-bit samples keep their high byte (Pillow's "RGB;16B" modes);
  /// palette images expand to RGB, or RGBA when tRNS gives alpha; a tRNS colour key on gray/RGB is
  /// ignored (`convert("RGB")` drops it too). 16-bit gray clips to 255 as Pillow's I;16 → L conversion does.
  public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(ImageError) -> Image {
    guard bytes.starts(with: signature) else { throw .unknownFormat }
    let crc = CRC32()
    var h = Header()
    var palette: [UInt8] = []
    var trns: [UInt8] = []
    var idat: [UInt8] = []
    var orientation = 1
    var pos = 8, sawHeader = false, sawEnd = false
    while pos < bytes.count {
      guard pos + 12 <= bytes.count else { throw .malformed("PNG chunk header truncated at byte \(pos)") }
      let len = Int(be32(bytes, pos))
      guard len <= 0x7FFF_FFFF, pos + 12 + len <= bytes.count else { throw .malformed("PNG chunk at byte \(pos) runs past the end of the file") }
      let type = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
      let body = bytes[(pos + 8)..<(pos + 8 + len)]
      guard crc.update(0, bytes[(pos + 4)..<(pos + 8 + len)]) == be32(bytes, pos + 8 + len) else {
        throw .malformed("PNG chunk \(type) CRC mismatch (file corrupted)")
      }
      pos += 12 + len
      if !sawHeader && type != "IHDR" { throw .malformed("PNG does not start with IHDR") }
      switch type {
      case "IHDR":
        guard len == 13 else { throw .malformed("PNG IHDR has \(len) bytes, expected 13") }
        let b = body.startIndex
        h.width = Int(be32(bytes, b)); h.height = Int(be32(bytes, b + 4))
        h.bitDepth = Int(bytes[b + 8]); h.colorType = Int(bytes[b + 9]); h.interlace = Int(bytes[b + 12])
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[h.colorType], depths.contains(h.bitDepth) else {
          throw .malformed("PNG colour type \(h.colorType) with bit depth \(h.bitDepth) is not allowed")
        }
        guard bytes[b + 10] == 0, bytes[b + 11] == 0, h.interlace <= 1 else { throw .malformed("PNG compression, filter or interlace method is unknown") }
        try limits.check(width: h.width, height: h.height)
        sawHeader = true
      case "PLTE":
        guard len % 3 == 0, len / 3 <= 256, len > 0 else { throw .malformed("PNG palette has \(len) bytes") }
        palette = Array(body)
      case "tRNS": trns = Array(body)
      case "IDAT": idat.append(contentsOf: body)
      case "eXIf": orientation = EXIF.orientation(Array(body)) ?? orientation
      case "IEND": sawEnd = true
      default:
        // Unknown critical chunks (uppercase first letter) cannot be skipped.
        if let first = type.utf8.first, first >= 65 && first <= 90 { throw .unsupported("PNG critical chunk \(type)") }
      }
      if sawEnd { break }
    }
    guard sawHeader else { throw .malformed("PNG has no IHDR") }
    guard !idat.isEmpty else { throw .malformed("PNG has no image data (IDAT)") }
    if h.colorType == 3 && palette.isEmpty { throw .malformed("PNG palette image without PLTE") }

    // Raw (filtered) size: per pass, height·(1 + rowBytes).
    let passes = h.interlace == 1 ? adam7 : [(0, 0, 1, 1)]
    var expected = 0
    for (x0, y0, dx, dy) in passes {
      let pw = (h.width - x0 + dx - 1) / dx, ph = (h.height - y0 + dy - 1) / dy
      if pw > 0 && ph > 0 { expected += ph * (1 + h.rowBytes(pw)) }
    }
    let raw = try Inflate.zlib(idat, maxOutput: expected)
    guard raw.count == expected else { throw .malformed("PNG image data holds \(raw.count) bytes, expected \(expected) (truncated)") }

    // Unfilter each pass into samples, then scatter into the full image (as 16-bit sample values).
    let ch = h.channels
    var samples = [UInt16](repeating: 0, count: h.width * h.height * ch)
    var offset = 0
    for (x0, y0, dx, dy) in passes {
      let pw = (h.width - x0 + dx - 1) / dx, ph = (h.height - y0 + dy - 1) / dy
      guard pw > 0 && ph > 0 else { continue }
      let rb = h.rowBytes(pw), bpp = max(1, h.bitsPerPixel / 8)
      var prev = [UInt8](repeating: 0, count: rb), cur = [UInt8](repeating: 0, count: rb)
      for y in 0..<ph {
        let filter = raw[offset]
        for i in 0..<rb { cur[i] = raw[offset + 1 + i] }
        offset += 1 + rb
        try unfilter(filter, &cur, prev, bpp: bpp)
        for x in 0..<pw {
          let dst = ((y0 + y * dy) * h.width + x0 + x * dx) * ch
          for c in 0..<ch { samples[dst + c] = sample(cur, index: x * ch + c, depth: h.bitDepth) }
        }
        swap(&prev, &cur)
      }
    }
    return try toImage(samples, h, palette: palette, trns: trns, orientation: orientation)
  }

  static let adam7: [(Int, Int, Int, Int)] = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

  static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
  }

  static func sample(_ row: [UInt8], index: Int, depth: Int) -> UInt16 {
    switch depth {
    case 16: return UInt16(row[2 * index]) << 8 | UInt16(row[2 * index + 1])
    case 8: return UInt16(row[index])
    default:
      let perByte = 8 / depth
      let byte = row[index / perByte], shift = 8 - depth * (index % perByte + 1)
      return UInt16((byte >> UInt8(shift)) & UInt8((1 << depth) - 1))
    }
  }

  static func unfilter(_ filter: UInt8, _ cur: inout [UInt8], _ prev: [UInt8], bpp: Int) throws(ImageError) {
    let n = cur.count
    switch filter {
    case 0: break
    case 1: for i in bpp..<max(bpp, n) { cur[i] = cur[i] &+ cur[i - bpp] }
    case 2: for i in 0..<n { cur[i] = cur[i] &+ prev[i] }
    case 3:
      for i in 0..<n {
        let left = i >= bpp ? Int(cur[i - bpp]) : 0
        cur[i] = cur[i] &+ UInt8((left + Int(prev[i])) / 2)
      }
    case 4:
      for i in 0..<n {
        let a = i >= bpp ? Int(cur[i - bpp]) : 0, b = Int(prev[i]), c = i >= bpp ? Int(prev[i - bpp]) : 0
        let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        cur[i] = cur[i] &+ UInt8(pa <= pb && pa <= pc ? a : (pb <= pc ? b : c))
      }
    default: throw .malformed("PNG row filter type \(filter) is unknown")
    }
  }

  /// Samples → 8-bit channels as Pillow's PNG plugin and `convert` present them.
  static func toImage(_ s: [UInt16], _ h: Header, palette: [UInt8], trns: [UInt8], orientation: Int) throws(ImageError) -> Image {
    let n = h.width * h.height
    // Scale low bit depths to 8 bits the way Pillow's unpackers do (1-bit: 0/255, 2-bit: ×85, 4-bit: ×17).
    func to8(_ v: UInt16) -> UInt8 {
      switch h.bitDepth {
      case 16: UInt8(v >> 8)
      case 8: UInt8(v)
      case 4: UInt8(v * 17)
      case 2: UInt8(v * 85)
      default: UInt8(v * 255)
      }
    }
    switch h.colorType {
    case 3:
      let entries = palette.count / 3
      let hasAlpha = !trns.isEmpty
      var out = [UInt8](repeating: 0, count: n * (hasAlpha ? 4 : 3))
      for i in 0..<n {
        let idx = Int(s[i])
        // Out-of-range indices read as black, as Pillow does with a short palette.
        let (r, g, b): (UInt8, UInt8, UInt8) = idx < entries ? (palette[3 * idx], palette[3 * idx + 1], palette[3 * idx + 2]) : (0, 0, 0)
        if hasAlpha {
          out[4 * i] = r; out[4 * i + 1] = g; out[4 * i + 2] = b
          out[4 * i + 3] = idx < trns.count ? trns[idx] : 255
        } else {
          out[3 * i] = r; out[3 * i + 1] = g; out[3 * i + 2] = b
        }
      }
      return Image(width: h.width, height: h.height, layout: hasAlpha ? .rgba : .rgb, pixels: out, orientation: orientation)
    case 0:
      var out = [UInt8](repeating: 0, count: n)
      // 16-bit gray is Pillow mode I;16, whose conversion to L/RGB clips at 255 instead of scaling.
      for i in 0..<n { out[i] = h.bitDepth == 16 ? UInt8(min(s[i], 255)) : to8(s[i]) }
      return Image(width: h.width, height: h.height, layout: .gray, pixels: out, orientation: orientation)
    case 2:
      var out = [UInt8](repeating: 0, count: 3 * n)
      for i in 0..<(3 * n) { out[i] = to8(s[i]) }
      return Image(width: h.width, height: h.height, layout: .rgb, pixels: out, orientation: orientation)
    case 4:
      var out = [UInt8](repeating: 0, count: 2 * n)
      for i in 0..<(2 * n) { out[i] = to8(s[i]) }
      return Image(width: h.width, height: h.height, layout: .grayAlpha, pixels: out, orientation: orientation)
    default:
      var out = [UInt8](repeating: 0, count: 4 * n)
      for i in 0..<(4 * n) { out[i] = to8(s[i]) }
      return Image(width: h.width, height: h.height, layout: .rgba, pixels: out, orientation: orientation)
    }
  }
}
