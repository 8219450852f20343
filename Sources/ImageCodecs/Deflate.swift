// Deflate: zlib-wrapped DEFLATE compression for the PNG encoder: LZ77 over a 32 KiB window with hash
// chains (greedy, 3..258-byte matches), coded with the fixed Huffman tables in one final block.

enum Deflate {
  static func zlib(_ data: [UInt8]) -> [UInt8] {
    var w = BitWriter()
    w.bytes = [0x78, 0x01]
    w.write(1, 1)  // BFINAL
    w.write(1, 2)  // BTYPE = fixed Huffman
    let windowSize = 1 << 15, hashBits = 15, maxChain = 48
    var head = [Int](repeating: -1, count: 1 << hashBits)
    var prev = [Int](repeating: -1, count: windowSize)
    func hash(_ i: Int) -> Int {
      (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & ((1 << hashBits) - 1)
    }
    func insert(_ i: Int) {
      guard i + 2 < data.count else { return }
      let h = hash(i)
      prev[i & (windowSize - 1)] = head[h]
      head[h] = i
    }
    var i = 0
    while i < data.count {
      var bestLen = 0, bestDist = 0
      if i + 2 < data.count {
        var cand = head[hash(i)], chain = 0
        let maxLen = min(258, data.count - i)
        while cand >= 0 && i - cand <= windowSize - 1 && chain < maxChain {
          var l = 0
          while l < maxLen && data[cand + l] == data[i + l] { l += 1 }
          if l > bestLen {
            bestLen = l
            bestDist = i - cand
            if l == maxLen { break }
          }
          cand = prev[cand & (windowSize - 1)]
          chain += 1
        }
      }
      if bestLen >= 3 {
        writeLength(&w, bestLen)
        writeDistance(&w, bestDist)
        for k in 0..<bestLen { insert(i + k) }
        i += bestLen
      } else {
        writeLiteral(&w, Int(data[i]))
        insert(i)
        i += 1
      }
    }
    writeLiteral(&w, 256)
    w.flush()
    let a = adler32(data)
    w.bytes += [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
    return w.bytes
  }

  /// Fixed literal/length code of symbol s (RFC 1951 §3.2.6), written MSB first.
  static func writeLiteral(_ w: inout BitWriter, _ s: Int) {
    switch s {
    case 0...143: w.writeCode(0x30 + s, 8)
    case 144...255: w.writeCode(0x190 + s - 144, 9)
    case 256...279: w.writeCode(s - 256, 7)
    default: w.writeCode(0xC0 + s - 280, 8)
    }
  }

  static func writeLength(_ w: inout BitWriter, _ len: Int) {
    var li = 28
    while Inflate.lengthBase[li] > len { li -= 1 }
    writeLiteral(&w, 257 + li)
    w.write(len - Inflate.lengthBase[li], Inflate.lengthExtra[li])
  }

  static func writeDistance(_ w: inout BitWriter, _ d: Int) {
    var di = 29
    while Inflate.distBase[di] > d { di -= 1 }
    w.writeCode(di, 5)
    w.write(d - Inflate.distBase[di], Inflate.distExtra[di])
  }
}

/// LSB-first bit writer.
struct BitWriter {
  var bytes: [UInt8] = []
  var buffer: UInt64 = 0
  var count = 0

  /// n bits of v, least significant first.
  mutating func write(_ v: Int, _ n: Int) {
    guard n > 0 else { return }
    buffer |= UInt64(v & ((1 << n) - 1)) << UInt64(count)
    count += n
    while count >= 8 {
      bytes.append(UInt8(truncatingIfNeeded: buffer))
      buffer >>= 8
      count -= 8
    }
  }

  /// A Huffman code of n bits, most significant first.
  mutating func writeCode(_ code: Int, _ n: Int) {
    var rev = 0, c = code
    for _ in 0..<n {
      rev = rev << 1 | (c & 1)
      c >>= 1
    }
    write(rev, n)
  }

  mutating func flush() {
    if count > 0 { bytes.append(UInt8(truncatingIfNeeded: buffer)) }
    buffer = 0
    count = 0
  }
}

extension PNG {
  /// Encodes 8-bit gray, gray+alpha, RGB or RGBA, choosing per row the filter with the smallest sum
  /// of absolute filtered bytes (the libpng heuristic), deflate-compressed.
  public static func encode(_ image: Image) -> [UInt8] {
    let ch = image.layout.channels, w = image.width, h = image.height, rb = w * ch
    let colorType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][ch]!
    var raw: [UInt8] = []
    raw.reserveCapacity(h * (rb + 1))
    var prev = [UInt8](repeating: 0, count: rb)
    var candidate = [UInt8](repeating: 0, count: rb), best = [UInt8](repeating: 0, count: rb)
    for y in 0..<h {
      let cur = Array(image.pixels[(y * rb)..<((y + 1) * rb)])
      var bestFilter: UInt8 = 0, bestCost = Int.max
      for f in 0..<5 {
        for i in 0..<rb {
          let a = i >= ch ? Int(cur[i - ch]) : 0, b = Int(prev[i]), c = i >= ch ? Int(prev[i - ch]) : 0
          let pred: Int
          switch f {
          case 0: pred = 0
          case 1: pred = a
          case 2: pred = b
          case 3: pred = (a + b) / 2
          default:
            let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
            pred = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
          }
          candidate[i] = cur[i] &- UInt8(pred)
        }
        var cost = 0
        for v in candidate { cost += v < 128 ? Int(v) : 256 - Int(v) }
        if cost < bestCost {
          bestCost = cost
          bestFilter = UInt8(f)
          swap(&best, &candidate)
        }
      }
      raw.append(bestFilter)
      raw.append(contentsOf: best)
      prev = cur
    }
    var out = signature
    let crc = CRC32()
    func chunk(_ type: String, _ body: [UInt8]) {
      let n = UInt32(body.count)
      out += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
      let typed = Array(type.utf8) + body
      out += typed
      let c = crc.update(0, typed[...])
      out += [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)]
    }
    func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    chunk("IHDR", be(w) + be(h) + [8, colorType, 0, 0, 0])
    chunk("IDAT", Deflate.zlib(raw))
    chunk("IEND", [])
    return out
  }
}
