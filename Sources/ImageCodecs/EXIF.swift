// EXIF: reads the Orientation tag (0x0112) from a TIFF-structured EXIF block (JPEG APP1 after
// "Exif\0\0", or a PNG eXIf chunk). Everything else in EXIF is ignored.

enum EXIF {
  /// Orientation 1-8, or nil when absent or malformed (a bad EXIF block never fails the image).
  static func orientation(_ b: [UInt8]) -> Int? {
    var t = b[...]
    if t.starts(with: Array("Exif\0\0".utf8)) { t = t.dropFirst(6) }
    let base = t.startIndex
    guard t.count >= 8 else { return nil }
    let little: Bool
    switch (t[base], t[base + 1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ i: Int) -> Int? {
      guard i >= base, i + 2 <= t.endIndex else { return nil }
      return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
    }
    func u32(_ i: Int) -> Int? {
      guard let a = u16(i), let c = u16(i + 2) else { return nil }
      return little ? a | c << 16 : a << 16 | c
    }
    guard u16(base + 2) == 42, let ifd = u32(base + 4), let count = u16(base + ifd) else { return nil }
    for e in 0..<count {
      let entry = base + ifd + 2 + 12 * e
      guard let tag = u16(entry) else { return nil }
      if tag == 0x0112, let type = u16(entry + 2), type == 3, let v = u16(entry + 8), (1...8).contains(v) { return v }
    }
    return nil
  }
}
