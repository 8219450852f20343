// JPEG decoder: baseline and progressive Huffman (SOF0/1/2), 8-bit, gray or YCbCr/RGB with any
// sampling factors (4:4:4, 4:2:2, 4:2:0, 4:4:0), restart markers, the EXIF orientation tag.
// Reproduces libjpeg-turbo as Pillow uses it: jpeg_idct_islow, fancy (triangle) upsampling for
// h2v1/h2v2/h1v2, and the fixed-point YCbCr→RGB tables of jdcolor.c, so pixels match Pillow exactly.
// Memory: coefficients of every block (2 bytes/sample of each component) are held for progressive
// files; baseline files decode straight to sample planes (1 byte/sample) before colour conversion.

public enum JPEG {
  struct Component {
    var id: Int, h: Int, v: Int, tq: Int
    var bw = 0, bh = 0          // blocks per line / column, covering whole MCUs
    var dcTable = 0, acTable = 0
    var pred = 0
  }

  struct Frame {
    var width = 0, height = 0, progressive = false
    var components: [Component] = []
    var hmax = 1, vmax = 1, mcusX = 0, mcusY = 0
    /// Per component: decoded samples, bw·8 × bh·8 (kept outside `Component` so that copying a
    /// component's scalars never shares, and then copies, these buffers).
    var samples: [[UInt8]] = []
    /// Per component, progressive only: bw·bh blocks of 64 coefficients in natural order.
    var coefficients: [[Int16]] = []
    /// Per component: rows held in `samples` (a ring of 3 MCU rows when streaming, else all rows).
    var ringRows: [Int] = []
  }

  static let zigzag: [Int] = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
                              28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60,
                              61, 54, 47, 55, 62, 63]

  public static func decode(_ b: [UInt8], limits: DecodeLimits) throws(ImageError) -> Image {
    var d = Decoder(data: b, limits: limits)
    return try d.run()
  }

  struct Decoder {
    let data: [UInt8]
    let limits: DecodeLimits
    var pos = 2
    var quant = [[Int]](repeating: [Int](repeating: 1, count: 64), count: 4)
    var quantDefined = [Bool](repeating: false, count: 4)
    var dc = [JPEGHuffman?](repeating: nil, count: 4)
    var ac = [JPEGHuffman?](repeating: nil, count: 4)
    var frame = Frame()
    var restartInterval = 0
    var orientation = 1
    var adobeTransform: Int? = nil
    var sawJFIF = false
    var eobrun = 0
    /// Baseline files whose first scan holds every component decode in MCU rows: output rows are
    /// converted as soon as their context is decoded, and only 3 MCU rows of samples are kept.
    var streaming = false
    var output: [UInt8] = []
    var emitted = 0
    var converter: ColorConvert.RowConverter? = nil
    var scans = 0

    init(data: [UInt8], limits: DecodeLimits) {
      self.data = data
      self.limits = limits
    }

    func u16(_ i: Int) throws(ImageError) -> Int {
      guard i + 1 < data.count else { throw .malformed("JPEG segment truncated at byte \(i)") }
      return Int(data[i]) << 8 | Int(data[i + 1])
    }

    mutating func run() throws(ImageError) -> Image {
      var sawFrame = false, sawScan = false
      while true {
        // Find the next marker (skipping fill bytes).
        guard pos < data.count else {
          throw .malformed(sawScan ? "JPEG is truncated: no end-of-image marker" : "JPEG ends before its image data (no SOS)")
        }
        guard data[pos] == 0xFF else { throw .malformed("JPEG marker expected at byte \(pos), found 0x\(String(data[pos], radix: 16))") }
        while pos < data.count && data[pos] == 0xFF { pos += 1 }
        guard pos < data.count else { throw .malformed("JPEG ends inside a marker") }
        let marker = data[pos]
        pos += 1
        switch marker {
        case 0xD9: // EOI
          guard sawScan else { throw .malformed("JPEG has no scan before EOI") }
          return try finish()
        case 0xD0...0xD7, 0x01: continue
        default: break
        }
        let len = try u16(pos)
        guard len >= 2, pos + len <= data.count else { throw .malformed("JPEG segment 0x\(String(marker, radix: 16)) of \(len) bytes runs past the end") }
        let body = pos + 2, end = pos + len
        switch marker {
        case 0xC0, 0xC1, 0xC2:
          guard !sawFrame else { throw .unsupported("JPEG with several frames") }
          try readFrame(body, end, progressive: marker == 0xC2)
          sawFrame = true
        case 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
          throw .unsupported("JPEG process SOF\(marker - 0xC0) (lossless, hierarchical or arithmetic coding)")
        case 0xC4: try readHuffman(body, end)
        case 0xDB: try readQuant(body, end)
        case 0xDD:
          guard len >= 4 else { throw .malformed("JPEG restart interval segment of \(len) bytes (4 expected)") }
          restartInterval = try u16(body)
        case 0xDA:
          guard sawFrame else { throw .malformed("JPEG scan before frame header") }
          pos = end
          try readScan(body, end)
          sawScan = true
          continue
        case 0xE0: if len >= 7 && Array(data[body..<(body + 5)]) == Array("JFIF\0".utf8) { sawJFIF = true }
        case 0xE1:
          if len >= 8 && Array(data[body..<(body + 6)]) == Array("Exif\0\0".utf8) {
            orientation = EXIF.orientation(Array(data[body..<end])) ?? orientation
          }
        case 0xEE: if len >= 12 && Array(data[body..<(body + 5)]) == Array("Adobe".utf8) { adobeTransform = Int(data[body + 11]) }
        default: break
        }
        pos = end
      }
      return try finish()
    }

    mutating func readFrame(_ p: Int, _ end: Int, progressive: Bool) throws(ImageError) {
      guard end - p >= 6 else { throw .malformed("JPEG frame header too short") }
      guard data[p] == 8 else { throw .unsupported("JPEG sample precision \(data[p]) bits (only 8)") }
      frame.height = try u16(p + 1)
      frame.width = try u16(p + 3)
      guard frame.height > 0 else { throw .unsupported("JPEG with height 0 (DNL marker)") }
      try limits.check(width: frame.width, height: frame.height)
      let n = Int(data[p + 5])
      guard n == 1 || n == 3 else { throw .unsupported("JPEG with \(n) components (only gray and 3-component colour)") }
      guard end - p >= 6 + 3 * n else { throw .malformed("JPEG frame header too short for \(n) components") }
      frame.progressive = progressive
      for i in 0..<n {
        let c = p + 6 + 3 * i
        let h = Int(data[c + 1] >> 4), v = Int(data[c + 1] & 15), tq = Int(data[c + 2])
        guard (1...4).contains(h), (1...4).contains(v), tq < 4 else { throw .malformed("JPEG component \(i) sampling \(h)x\(v) or table \(tq) invalid") }
        frame.components.append(Component(id: Int(data[c]), h: h, v: v, tq: tq))
      }
      frame.hmax = frame.components.map(\.h).max()!
      frame.vmax = frame.components.map(\.v).max()!
      for c in frame.components where frame.hmax % c.h != 0 || frame.vmax % c.v != 0 {
        // libjpeg refuses these too ("Fractional sampling not implemented yet").
        throw .unsupported("JPEG fractional sampling \(c.h)x\(c.v) of \(frame.hmax)x\(frame.vmax)")
      }
      frame.mcusX = (frame.width + 8 * frame.hmax - 1) / (8 * frame.hmax)
      frame.mcusY = (frame.height + 8 * frame.vmax - 1) / (8 * frame.vmax)
      for i in frame.components.indices {
        let c = frame.components[i]
        frame.components[i].bw = frame.mcusX * c.h
        frame.components[i].bh = frame.mcusY * c.v
        let count = frame.components[i].bw * frame.components[i].bh * 64
        frame.coefficients.append(progressive ? [Int16](repeating: 0, count: count) : [])
        frame.samples.append([])   // allocated by the first scan (a ring when it can stream)
        frame.ringRows.append(frame.components[i].bh * 8)
      }
    }

    mutating func readHuffman(_ start: Int, _ end: Int) throws(ImageError) {
      var p = start
      while p < end {
        let tc = Int(data[p] >> 4), th = Int(data[p] & 15)
        guard tc <= 1, th <= 3, p + 17 <= end else { throw .malformed("JPEG Huffman table header invalid") }
        var counts = [Int](repeating: 0, count: 16)
        var total = 0
        for i in 0..<16 {
          counts[i] = Int(data[p + 1 + i])
          total += counts[i]
        }
        guard total <= 256, p + 17 + total <= end else { throw .malformed("JPEG Huffman table has \(total) symbols past its segment") }
        let table = try JPEGHuffman(counts: counts, symbols: Array(data[(p + 17)..<(p + 17 + total)]))
        if tc == 0 { dc[th] = table } else { ac[th] = table }
        p += 17 + total
      }
    }

    mutating func readQuant(_ start: Int, _ end: Int) throws(ImageError) {
      var p = start
      while p < end {
        let pq = Int(data[p] >> 4), tq = Int(data[p] & 15)
        guard tq < 4, pq <= 1, p + 1 + 64 * (pq + 1) <= end else { throw .malformed("JPEG quantization table invalid") }
        for i in 0..<64 {
          quant[tq][i] = pq == 0 ? Int(data[p + 1 + i]) : Int(data[p + 1 + 2 * i]) << 8 | Int(data[p + 2 + 2 * i])
        }
        quantDefined[tq] = true
        p += 1 + 64 * (pq + 1)
      }
    }

    mutating func readScan(_ p: Int, _ end: Int) throws(ImageError) {
      // An empty scan header (length 2) may end the file: read nothing before checking (fuzz crash jpeg-crash-c7e14939).
      guard end > p else { throw .malformed("JPEG scan header is empty") }
      let n = Int(data[p])
      guard n >= 1, n <= frame.components.count, end - p >= 4 + 2 * n else { throw .malformed("JPEG scan header invalid") }
      var comps: [Int] = []
      for i in 0..<n {
        let id = Int(data[p + 1 + 2 * i])
        guard let ci = frame.components.firstIndex(where: { $0.id == id }) else { throw .malformed("JPEG scan names unknown component \(id)") }
        frame.components[ci].dcTable = Int(data[p + 2 + 2 * i] >> 4)
        frame.components[ci].acTable = Int(data[p + 2 + 2 * i] & 15)
        guard frame.components[ci].dcTable < 4, frame.components[ci].acTable < 4 else { throw .malformed("JPEG scan table index invalid") }
        comps.append(ci)
      }
      let q = p + 1 + 2 * n
      let ss = Int(data[q]), se = Int(data[q + 1]), ah = Int(data[q + 2] >> 4), al = Int(data[q + 2] & 15)
      if frame.progressive {
        guard ss <= se, se <= 63, (ss == 0) == (se == 0), ss == 0 || n == 1, ah <= 13, al <= 13 else {
          throw .malformed("JPEG progressive scan parameters Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al) invalid")
        }
      }
      for ci in comps {
        let c = frame.components[ci]
        if !frame.progressive || ss == 0 && ah == 0 {
          guard dc[c.dcTable] != nil else { throw .malformed("JPEG scan uses undefined DC table \(c.dcTable)") }
        }
        if !frame.progressive || ss > 0 {
          guard ac[c.acTable] != nil else { throw .malformed("JPEG scan uses undefined AC table \(c.acTable)") }
        }
        frame.components[ci].pred = 0
      }
      if scans == 0 {
        streaming = !frame.progressive && n == frame.components.count
        for ci in frame.components.indices {
          let c = frame.components[ci]
          if streaming { frame.ringRows[ci] = min(c.bh * 8, 3 * c.v * 8) }
          frame.samples[ci] = [UInt8](repeating: 0, count: frame.ringRows[ci] * c.bw * 8)
        }
        if streaming {
          output = [UInt8](repeating: 0, count: frame.width * frame.height * (frame.components.count == 1 ? 1 : 3))
          converter = ColorConvert.RowConverter(width: frame.width, rgbComponents: isRGB())
        }
      } else if streaming {
        throw .unsupported("JPEG baseline file with more than one scan after an interleaved scan")
      }
      scans += 1
      eobrun = 0
      var bits = JPEGBits(data: data, pos: pos)
      // Units to decode: one MCU of all scan components, or (single-component scan) one block.
      let single = n == 1
      let c0 = frame.components[comps[0]]
      let unitsX = single ? (frame.width * c0.h + 8 * frame.hmax - 1) / (8 * frame.hmax) : frame.mcusX
      let unitsY = single ? (frame.height * c0.v + 8 * frame.vmax - 1) / (8 * frame.vmax) : frame.mcusY
      var todo = restartInterval
      for uy in 0..<unitsY {
        for ux in 0..<unitsX {
          if restartInterval > 0 {
            if todo == 0 {
              try bits.restart()
              for ci in comps { frame.components[ci].pred = 0 }
              eobrun = 0
              todo = restartInterval
            }
            todo -= 1
          }
          if single {
            try decodeBlock(comps[0], bx: ux, by: uy, &bits, ss: ss, se: se, ah: ah, al: al)
          } else {
            for ci in comps {
              let c = frame.components[ci]
              for v in 0..<c.v {
                for h in 0..<c.h {
                  try decodeBlock(ci, bx: ux * c.h + h, by: uy * c.v + v, &bits, ss: ss, se: se, ah: ah, al: al)
                }
              }
            }
          }
        }
        if streaming { emitRows(decodedMCURows: uy + 1) }
        if bits.hitEnd && bits.count < 8 * bits.padding {
          throw .malformed("JPEG is truncated: the file ends inside the image data")
        }
      }
      pos = bits.markerPosition()
    }

    /// Decodes one block: baseline straight to samples; progressive into the coefficient store.
    mutating func decodeBlock(_ ci: Int, bx: Int, by: Int, _ bits: inout JPEGBits, ss: Int, se: Int, ah: Int, al: Int) throws(ImageError) {
      let c = frame.components[ci]
      let base = (by * c.bw + bx) * 64
      if !frame.progressive {
        var block = [Int](repeating: 0, count: 64)
        let t = try table(dc, c.dcTable).decode(&bits)
        guard t <= 16 else { throw .malformed("JPEG DC difference category \(t)") }
        let diff = t == 0 ? 0 : extend(try bits.get(t), t)
        frame.components[ci].pred += diff
        block[0] = frame.components[ci].pred
        var k = 1
        let act = try table(ac, c.acTable)
        while k < 64 {
          let rs = try act.decode(&bits)
          let r = rs >> 4, s = rs & 15
          if s == 0 {
            if r == 15 { k += 16; continue }
            break
          }
          k += r
          guard k < 64 else { throw .malformed("JPEG AC coefficient index past 63") }
          block[zigzag[k]] = extend(try bits.get(s), s)
          k += 1
        }
        guard quantDefined[c.tq] else { throw .malformed("JPEG uses undefined quantization table \(c.tq)") }
        idctBlock(block, quant: quant[c.tq], ci: ci, base: base)
        return
      }
      // Progressive: coefficients in natural order at `base`.
      if ss == 0 {
        if ah == 0 {
          let t = try table(dc, c.dcTable).decode(&bits)
          guard t <= 16 else { throw .malformed("JPEG DC difference category \(t)") }
          let diff = t == 0 ? 0 : extend(try bits.get(t), t)
          frame.components[ci].pred += diff
          frame.coefficients[ci][base] = Int16(truncatingIfNeeded: frame.components[ci].pred << al)
        } else if try bits.get(1) == 1 {
          frame.coefficients[ci][base] |= Int16(truncatingIfNeeded: 1 << al)
        }
        return
      }
      if ah == 0 {
        if eobrun > 0 { eobrun -= 1; return }
        var k = ss
        let act = try table(ac, c.acTable)
        while k <= se {
          let rs = try act.decode(&bits)
          let r = rs >> 4, s = rs & 15
          if s == 0 {
            if r < 15 {
              eobrun = (1 << r) - 1
              if r > 0 { eobrun += try bits.get(r) }
              break
            }
            k += 16
            continue
          }
          k += r
          guard k <= 63 else { throw .malformed("JPEG AC coefficient index past 63") }
          frame.coefficients[ci][base + zigzag[k]] = Int16(truncatingIfNeeded: extend(try bits.get(s), s) * (1 << al))
          k += 1
        }
        return
      }
      // AC refinement (G.1.2.3).
      let p1 = 1 << al, m1 = -1 << al
      var k = ss
      if eobrun <= 0 {
        let act = try table(ac, c.acTable)
        while k <= se {
          let rs = try act.decode(&bits)
          var r = rs >> 4
          let s = rs & 15
          var value = 0
          if s == 0 {
            if r < 15 {
              eobrun = 1 << r
              if r > 0 { eobrun += try bits.get(r) }
              break
            }
          } else {
            guard s == 1 else { throw .malformed("JPEG refinement coefficient size \(s)") }
            value = try bits.get(1) == 1 ? p1 : m1
          }
          while k <= se {
            let z = base + zigzag[k]
            let coef = Int(frame.coefficients[ci][z])
            if coef != 0 {
              if try bits.get(1) == 1 && coef & p1 == 0 {
                frame.coefficients[ci][z] = Int16(truncatingIfNeeded: coef >= 0 ? coef + p1 : coef + m1)
              }
            } else {
              if r == 0 {
                if value != 0 { frame.coefficients[ci][z] = Int16(truncatingIfNeeded: value) }
                k += 1
                break
              }
              r -= 1
            }
            k += 1
          }
        }
      }
      if eobrun > 0 {
        while k <= se {
          let z = base + zigzag[k]
          let coef = Int(frame.coefficients[ci][z])
          if coef != 0, try bits.get(1) == 1, coef & p1 == 0 {
            frame.coefficients[ci][z] = Int16(truncatingIfNeeded: coef >= 0 ? coef + p1 : coef + m1)
          }
          k += 1
        }
        eobrun -= 1
      }
    }

    func table(_ t: [JPEGHuffman?], _ i: Int) throws(ImageError) -> JPEGHuffman {
      guard let h = t[i] else { throw .malformed("JPEG uses undefined Huffman table \(i)") }
      return h
    }

    @inline(__always) func extend(_ v: Int, _ t: Int) -> Int { v < 1 << (t - 1) ? v - (1 << t) + 1 : v }

    mutating func idctBlock(_ block: [Int], quant q: [Int], ci: Int, base: Int) {
      // Quantization tables are stored in zig-zag order; block is in natural order.
      var deq = [Int](repeating: 0, count: 64)
      for k in 0..<64 { deq[JPEG.zigzag[k]] = q[k] }
      let bw = frame.components[ci].bw
      let blockIndex = base / 64
      let bx = blockIndex % bw, by = blockIndex / bw
      let stride = bw * 8
      var tile = [UInt8](repeating: 0, count: 64)
      let ring = frame.ringRows[ci]
      IDCT.islow(block, deq) { r, c, v in tile[r * 8 + c] = v }
      frame.samples[ci].withUnsafeMutableBufferPointer { s in
        for r in 0..<8 {
          for c in 0..<8 { s[((by * 8 + r) % ring) * stride + bx * 8 + c] = tile[r * 8 + c] }
        }
      }
    }

    /// Converts every output row whose source rows (with upsampling context) are decoded.
    mutating func emitRows(decodedMCURows: Int) {
      let all = decodedMCURows >= frame.mcusY
      while emitted < frame.height {
        let y = emitted
        let ready = all || frame.components.allSatisfy { c in
          ColorConvert.lastSourceRow(c, frame: frame, y: y) < decodedMCURows * c.v * 8
        }
        guard ready else { return }
        converter!.convert(frame, y: y, into: &output)
        emitted += 1
      }
    }

    mutating func finish() throws(ImageError) -> Image {
      if streaming {
        emitRows(decodedMCURows: frame.mcusY)
        return Image(width: frame.width, height: frame.height, layout: frame.components.count == 1 ? .gray : .rgb,
                     pixels: output, orientation: orientation)
      }
      if frame.progressive {
        for ci in frame.components.indices {
          let c = frame.components[ci]
          guard quantDefined[c.tq] else { throw .malformed("JPEG uses undefined quantization table \(c.tq)") }
          for blk in 0..<(c.bw * c.bh) {
            let block = (0..<64).map { Int(frame.coefficients[ci][blk * 64 + $0]) }
            idctBlock(block, quant: quant[c.tq], ci: ci, base: blk * 64)
          }
          frame.coefficients[ci] = []
        }
      }
      var out = [UInt8](repeating: 0, count: frame.width * frame.height * (frame.components.count == 1 ? 1 : 3))
      var conv = ColorConvert.RowConverter(width: frame.width, rgbComponents: isRGB())
      for y in 0..<frame.height { conv.convert(frame, y: y, into: &out) }
      return Image(width: frame.width, height: frame.height, layout: frame.components.count == 1 ? .gray : .rgb,
                   pixels: out, orientation: orientation)
    }

    /// libjpeg's colour-space guess for 3 components: Adobe transform 0 or component ids 'R','G','B' mean RGB.
    func isRGB() -> Bool {
      guard frame.components.count == 3 else { return false }
      if sawJFIF { return false }
      if let t = adobeTransform { return t == 0 }
      return frame.components.map(\.id) == [82, 71, 66]
    }
  }
}

/// Huffman decoding table for JPEG (codes MSB first): 9-bit lookup plus canonical slow path.
struct JPEGHuffman {
  var fast = [Int16](repeating: -1, count: 512)   // symbol << 4 | length, or -1
  var maxcode = [Int](repeating: -1, count: 18)
  var valptr = [Int](repeating: 0, count: 17)
  var mincode = [Int](repeating: 0, count: 17)
  let symbols: [UInt8]

  init(counts: [Int], symbols: [UInt8]) throws(ImageError) {
    self.symbols = symbols
    var code = 0, k = 0
    for len in 1...16 {
      valptr[len] = k
      mincode[len] = code
      code += counts[len - 1]
      k += counts[len - 1]
      guard code <= 1 << len else { throw .malformed("JPEG Huffman table is over-subscribed") }
      maxcode[len] = counts[len - 1] > 0 ? code - 1 : -1
      if len <= 9 {
        for i in 0..<counts[len - 1] {
          let c = mincode[len] + i
          let shift = 9 - len
          for fill in 0..<(1 << shift) { fast[(c << shift) | fill] = Int16(Int(symbols[valptr[len] + i]) << 4 | len) }
        }
      }
      code <<= 1
    }
    maxcode[17] = Int.max
  }

  func decode(_ b: inout JPEGBits) throws(ImageError) -> Int {
    let peek = b.peek(9)
    let f = fast[peek]
    if f >= 0 {
      try b.skip(Int(f) & 15)
      return Int(f) >> 4
    }
    var code = try b.get(9)
    var len = 9
    while true {
      if len <= 16 && maxcode[len] >= 0 && code <= maxcode[len] && code >= mincode[len] {
        return Int(symbols[valptr[len] + code - mincode[len]])
      }
      len += 1
      guard len <= 16 else { throw .malformed("JPEG holds an invalid Huffman code") }
      code = code << 1 | (try b.get(1))
    }
  }
}

/// MSB-first bit reader over entropy-coded data: removes 0xFF00 stuffing, stops at markers (then feeds
/// zeros, as libjpeg does for corrupt data; running far past the end is an error).
struct JPEGBits {
  let data: [UInt8]
  var pos: Int
  var buffer: UInt64 = 0
  var count = 0
  var hitMarker = false
  var padding = 0
  /// The data ended inside entropy-coded data (no marker followed): the file is truncated.
  var hitEnd = false

  init(data: [UInt8], pos: Int) {
    self.data = data
    self.pos = pos
  }

  mutating func fill() {
    while count <= 56 {
      var byte: UInt8 = 0
      if !hitMarker && pos < data.count {
        byte = data[pos]
        if byte == 0xFF {
          let next = pos + 1 < data.count ? data[pos + 1] : 0xD9
          if next == 0 {
            pos += 2
          } else {
            hitMarker = true
            byte = 0
            padding += 1
          }
        } else {
          pos += 1
        }
      } else {
        if !hitMarker { hitEnd = true }
        padding += 1
      }
      buffer |= UInt64(byte) << UInt64(56 - count)
      count += 8
    }
  }

  mutating func peek(_ n: Int) -> Int {
    if count < n { fill() }
    return Int(buffer >> UInt64(64 - n))
  }

  mutating func skip(_ n: Int) throws(ImageError) {
    if count < n { fill() }
    buffer <<= UInt64(n)
    count -= n
    // A little zero padding is normal at the end of a scan; a lot means the data is truncated.
    guard padding < 1 << 16 else { throw .malformed("JPEG entropy-coded data is truncated") }
  }

  mutating func get(_ n: Int) throws(ImageError) -> Int {
    if n == 0 { return 0 }
    let v = peek(n)
    try skip(n)
    return v
  }

  /// Consumes an RSTn marker: drops the remaining bits of the current byte and expects the marker.
  mutating func restart() throws(ImageError) {
    buffer = 0
    count = 0
    padding = 0
    // Skip to the marker (libjpeg resynchronizes; we require it to be next, after fill bytes).
    if !hitMarker {
      while pos < data.count && data[pos] != 0xFF { pos += 1 }
    }
    while pos < data.count && data[pos] == 0xFF { pos += 1 }
    guard pos < data.count, (0xD0...0xD7).contains(data[pos]) else { throw .malformed("JPEG restart marker missing at byte \(pos)") }
    pos += 1
    hitMarker = false
  }

  /// Where the next marker starts, once the scan is done.
  func markerPosition() -> Int {
    var p = hitMarker ? pos : pos
    while p < data.count && !(data[p] == 0xFF && p + 1 < data.count && data[p + 1] != 0 && !(0xD0...0xD7).contains(data[p + 1])) {
      p += 1
    }
    return p
  }
}
