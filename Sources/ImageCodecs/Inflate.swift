// Inflate: DEFLATE (RFC 1951) decompression inside a zlib stream (RFC 1950), with the Adler-32 check.
// Huffman codes are decoded through one lookup table per code indexed by the next maxLen input bits.

enum Inflate {
  /// Decompresses a zlib stream. `maxOutput` bounds the output (a zip bomb is refused, not allocated).
  static func zlib(_ data: [UInt8], maxOutput: Int) throws(ImageError) -> [UInt8] {
    guard data.count >= 6 else { throw .malformed("zlib stream of \(data.count) bytes is too short") }
    let cmf = data[0], flg = data[1]
    guard cmf & 0x0F == 8, cmf >> 4 <= 7 else { throw .malformed("zlib compression method \(cmf & 0x0F) is not deflate") }
    guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw .malformed("zlib header check bits are wrong") }
    guard flg & 0x20 == 0 else { throw .malformed("zlib preset dictionary is not allowed in PNG") }
    var reader = BitReader(data, start: 2)
    let out = try inflate(&reader, maxOutput: maxOutput)
    reader.alignToByte()
    let p = reader.bytePosition
    guard p + 4 <= data.count else { throw .malformed("zlib stream ends before its Adler-32 checksum") }
    let stored = UInt32(data[p]) << 24 | UInt32(data[p + 1]) << 16 | UInt32(data[p + 2]) << 8 | UInt32(data[p + 3])
    guard stored == adler32(out) else { throw .malformed("zlib Adler-32 checksum mismatch (data corrupted)") }
    return out
  }

  static func inflate(_ r: inout BitReader, maxOutput: Int) throws(ImageError) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(min(maxOutput, 1 << 24))
    var final = false
    while !final {
      final = try r.bits(1) == 1
      switch try r.bits(2) {
      case 0:
        r.alignToByte()
        let len = try r.bits(16), nlen = try r.bits(16)
        guard len == ~nlen & 0xFFFF else { throw .malformed("deflate stored block length check failed") }
        guard out.count + len <= maxOutput else { throw .malformed("deflate output exceeds the expected \(maxOutput) bytes") }
        try r.copyBytes(len, into: &out)
      case 1:
        try inflateBlock(&r, &out, lit: Huffman.fixedLiteral, dist: Huffman.fixedDistance, maxOutput: maxOutput)
      case 2:
        let (lit, dist) = try readDynamicTables(&r)
        try inflateBlock(&r, &out, lit: lit, dist: dist, maxOutput: maxOutput)
      default:
        throw .malformed("deflate block type 3 is reserved")
      }
    }
    return out
  }

  static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
  static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
  static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                4097, 6145, 8193, 12289, 16385, 24577]
  static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

  static func inflateBlock(_ r: inout BitReader, _ out: inout [UInt8], lit: Huffman, dist: Huffman, maxOutput: Int) throws(ImageError) {
    while true {
      let sym = try lit.decode(&r)
      if sym < 256 {
        guard out.count < maxOutput else { throw .malformed("deflate output exceeds the expected \(maxOutput) bytes") }
        out.append(UInt8(sym))
      } else if sym == 256 {
        return
      } else {
        let li = sym - 257
        guard li < 29 else { throw .malformed("deflate length symbol \(sym) is invalid") }
        let length = lengthBase[li] + (try r.bits(lengthExtra[li]))
        let ds = try dist.decode(&r)
        guard ds < 30 else { throw .malformed("deflate distance symbol \(ds) is invalid") }
        let distance = distBase[ds] + (try r.bits(distExtra[ds]))
        guard distance <= out.count else { throw .malformed("deflate distance \(distance) reaches before the start of the output") }
        guard out.count + length <= maxOutput else { throw .malformed("deflate output exceeds the expected \(maxOutput) bytes") }
        let start = out.count - distance
        for i in 0..<length { out.append(out[start + i]) }
      }
    }
  }

  static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

  static func readDynamicTables(_ r: inout BitReader) throws(ImageError) -> (Huffman, Huffman) {
    let hlit = try r.bits(5) + 257, hdist = try r.bits(5) + 1, hclen = try r.bits(4) + 4
    guard hlit <= 286, hdist <= 30 else { throw .malformed("deflate header declares \(hlit) literal and \(hdist) distance codes") }
    var clLengths = [Int](repeating: 0, count: 19)
    for i in 0..<hclen { clLengths[codeLengthOrder[i]] = try r.bits(3) }
    let cl = try Huffman(lengths: clLengths)
    var lengths: [Int] = []
    while lengths.count < hlit + hdist {
      let sym = try cl.decode(&r)
      switch sym {
      case 0...15: lengths.append(sym)
      case 16:
        guard let prev = lengths.last else { throw .malformed("deflate code length repeat with no previous length") }
        for _ in 0..<(3 + (try r.bits(2))) { lengths.append(prev) }
      case 17: for _ in 0..<(3 + (try r.bits(3))) { lengths.append(0) }
      default: for _ in 0..<(11 + (try r.bits(7))) { lengths.append(0) }
      }
    }
    guard lengths.count == hlit + hdist else { throw .malformed("deflate code lengths overrun the declared count") }
    guard lengths[256] > 0 else { throw .malformed("deflate literal code has no end-of-block symbol") }
    return (try Huffman(lengths: Array(lengths[0..<hlit])), try Huffman(lengths: Array(lengths[hlit...])))
  }
}

/// A canonical Huffman code as a lookup table: entry `bits` (the next maxLen input bits, LSB first)
/// → symbol << 4 | code length; length 0 marks bit patterns no code uses.
struct Huffman {
  let table: [UInt16]
  let maxLen: Int

  init(lengths: [Int]) throws(ImageError) {
    let maxLen = max(1, lengths.max() ?? 0)
    var count = [Int](repeating: 0, count: 16)
    for l in lengths { count[l] += 1 }
    count[0] = 0
    var left = 1
    for len in 1...15 {
      left = left * 2 - count[len]
      guard left >= 0 else { throw .malformed("deflate Huffman code is over-subscribed") }
    }
    var next = [Int](repeating: 0, count: 16)
    var code = 0
    for len in 1...15 {
      code = (code + count[len - 1]) << 1
      next[len] = code
    }
    var table = [UInt16](repeating: 0, count: 1 << maxLen)
    for (sym, len) in lengths.enumerated() where len > 0 {
      var c = next[len]
      next[len] += 1
      var rev = 0  // codes are sent MSB first; the reader is LSB first
      for _ in 0..<len {
        rev = rev << 1 | (c & 1)
        c >>= 1
      }
      var i = rev
      while i < 1 << maxLen {
        table[i] = UInt16(sym << 4 | len)
        i += 1 << len
      }
    }
    self.table = table
    self.maxLen = maxLen
  }

  func decode(_ r: inout BitReader) throws(ImageError) -> Int {
    let e = Int(table[r.peek(maxLen)])
    let len = e & 15
    guard len > 0 else { throw .malformed("deflate stream holds an invalid Huffman code") }
    try r.consume(len)
    return e >> 4
  }

  static let fixedLiteral: Huffman = {
    var l = [Int](repeating: 8, count: 288)
    for i in 144..<256 { l[i] = 9 }
    for i in 256..<280 { l[i] = 7 }
    return try! Huffman(lengths: l)
  }()
  static let fixedDistance: Huffman = try! Huffman(lengths: [Int](repeating: 5, count: 30))
}

/// LSB-first bit reader over bytes; reading past the end is an error, not a crash.
struct BitReader {
  let data: [UInt8]
  var pos: Int
  var buffer: UInt64 = 0
  var count = 0

  init(_ data: [UInt8], start: Int) {
    self.data = data
    self.pos = start
  }

  mutating func refill() {
    while count <= 56 && pos < data.count {
      buffer |= UInt64(data[pos]) << UInt64(count)
      pos += 1
      count += 8
    }
  }

  /// The next n bits (n <= 32), zero-padded past the end of the data.
  mutating func peek(_ n: Int) -> Int {
    if count < n { refill() }
    return Int(buffer & ((1 << UInt64(n)) - 1))
  }

  mutating func consume(_ n: Int) throws(ImageError) {
    if count < n { refill() }
    guard count >= n else { throw .malformed("compressed data ends early") }
    buffer >>= UInt64(n)
    count -= n
  }

  mutating func bits(_ n: Int) throws(ImageError) -> Int {
    if n == 0 { return 0 }
    let v = peek(n)
    try consume(n)
    return v
  }

  mutating func alignToByte() {
    let drop = count % 8
    buffer >>= UInt64(drop)
    count -= drop
  }

  /// Index of the next unread byte (after alignToByte).
  var bytePosition: Int { pos - count / 8 }

  mutating func copyBytes(_ n: Int, into out: inout [UInt8]) throws(ImageError) {
    var left = n
    while left > 0 && count >= 8 {
      out.append(UInt8(truncatingIfNeeded: buffer))
      buffer >>= 8
      count -= 8
      left -= 1
    }
    guard pos + left <= data.count else { throw .malformed("deflate stored block runs past the end of the data") }
    out.append(contentsOf: data[pos..<(pos + left)])
    pos += left
  }
}
