// Deflate: zlib-wrapped DEFLATE compression for the PNG encoder: LZ77 over a 32 KiB window with hash
// chains (greedy, 3..258-byte matches), coded in one final block with Huffman codes built for the data
// (dynamic, RFC 1951 §3.2.7), or the fixed codes where those come out smaller (tiny inputs).

enum Deflate {
  /// One LZ77 item: a literal byte (dist 0) or a match of `len` bytes `dist` back.
  struct Token { var len: UInt16; var dist: UInt16 }

  static func zlib(_ data: [UInt8]) -> [UInt8] {
    var w = BitWriter()
    w.bytes = [0x78, 0x01]
    w.bytes.reserveCapacity(data.count / 4 + 64)
    let tokens = lz77(data)
    // Symbol frequencies: literal/length (0-285) and distance (0-29) alphabets.
    var litFreq = [Int](repeating: 0, count: 286), distFreq = [Int](repeating: 0, count: 30)
    for t in tokens {
      if t.dist == 0 {
        litFreq[Int(t.len)] += 1
      } else {
        litFreq[257 + lengthIndex[Int(t.len)]] += 1
        distFreq[distIndex(Int(t.dist))] += 1
      }
    }
    litFreq[256] = 1
    let litLen = huffmanLengths(litFreq, limit: 15), distLen = huffmanLengths(distFreq, limit: 15)
    // The dynamic block when it is smaller than the fixed one (tiny inputs), in bits.
    var dynamicBits = 0, fixedBits = 0
    for (sym, f) in litFreq.enumerated() where f > 0 {
      let extra = sym > 256 ? Inflate.lengthExtra[sym - 257] : 0
      dynamicBits += f * (litLen[sym] + extra)
      fixedBits += f * ((sym < 144 ? 8 : sym < 256 ? 9 : sym < 280 ? 7 : 8) + extra)
    }
    for (sym, f) in distFreq.enumerated() where f > 0 {
      dynamicBits += f * (distLen[sym] + Inflate.distExtra[sym])
      fixedBits += f * (5 + Inflate.distExtra[sym])
    }
    var header = BitWriter()
    writeDynamicHeader(&header, litLen: litLen, distLen: distLen)
    w.write(1, 1)  // BFINAL
    if dynamicBits + header.bitCount < fixedBits {
      w.write(2, 2)  // BTYPE = dynamic Huffman
      w.append(header)
      let litCode = canonicalCodes(litLen), distCode = canonicalCodes(distLen)
      emit(tokens, &w, lit: { litCode[$0] }, litLen: { litLen[$0] }, dist: { distCode[$0] }, distLen: { distLen[$0] })
      w.writeCode(litCode[256], litLen[256])
    } else {
      w.write(1, 2)  // BTYPE = fixed Huffman
      let fixedLit = (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 }
      let litCode = canonicalCodes(fixedLit), distCode = canonicalCodes([Int](repeating: 5, count: 30))
      emit(tokens, &w, lit: { litCode[$0] }, litLen: { fixedLit[$0] }, dist: { distCode[$0] }, distLen: { _ in 5 })
      w.writeCode(litCode[256], 7)
    }
    w.flush()
    let a = adler32(data)
    w.bytes += [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
    return w.bytes
  }

  /// Greedy LZ77 over a 32 KiB window with hash chains (3..258-byte matches, at most 48 candidates each,
  /// the search ending at a 128-byte match). The tables are sized to the input (a small mask does not
  /// clear 512 KiB of chains). Matches are compared 8 bytes at a time; of a match longer than 32 bytes
  /// only the first 16 and the last 2 positions enter the chains (zlib's fast levels skip them all), which
  /// keeps long runs from costing one insertion per byte.
  static func lz77(_ data: [UInt8]) -> [Token] {
    var tokens: [Token] = []
    tokens.reserveCapacity(data.count / 4 + 16)
    let n = data.count
    var size = 256
    while size < n && size < 1 << 15 { size <<= 1 }
    let window = size, hashBits = Swift.min(15, Swift.max(8, window.trailingZeroBitCount))
    let maxChain = 48, niceLen = 128, hashMask = (1 << hashBits) - 1, windowMask = window - 1
    let head = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << hashBits)
    let prev = UnsafeMutablePointer<Int32>.allocate(capacity: window)
    defer { head.deallocate(); prev.deallocate() }
    head.initialize(repeating: -1, count: 1 << hashBits)
    prev.initialize(repeating: -1, count: window)
    data.withUnsafeBufferPointer { dp in
      guard let d = dp.baseAddress else { return }
      let raw = UnsafeRawPointer(d)
      @inline(__always) func hash(_ i: Int) -> Int { (Int(d[i]) << 10 ^ Int(d[i + 1]) << 5 ^ Int(d[i + 2])) & hashMask }
      @inline(__always) func insert(_ i: Int) {
        guard i + 2 < n else { return }
        let h = hash(i)
        prev[i & windowMask] = head[h]
        head[h] = Int32(truncatingIfNeeded: i)
      }
      /// Length of the common prefix of d[a...] and d[b...], at most `limit`.
      @inline(__always) func common(_ a: Int, _ b: Int, _ limit: Int) -> Int {
        var l = 0
        while l + 8 <= limit {
          let x = raw.loadUnaligned(fromByteOffset: a + l, as: UInt64.self) ^ raw.loadUnaligned(fromByteOffset: b + l, as: UInt64.self)
          if x != 0 { return l + (UInt64(littleEndian: x).trailingZeroBitCount >> 3) }
          l += 8
        }
        while l < limit && d[a + l] == d[b + l] { l += 1 }
        return l
      }
      var i = 0
      while i < n {
        var bestLen = 0, bestDist = 0
        if i + 2 < n {
          var cand = Int(head[hash(i)]), chain = 0
          let maxLen = Swift.min(258, n - i)
          while cand >= 0 && i - cand <= 32767 && chain < maxChain {
            if bestLen == 0 || d[cand + bestLen] == d[i + bestLen] {
              let l = common(cand, i, maxLen)
              if l > bestLen {
                bestLen = l
                bestDist = i - cand
                if l >= niceLen || l == maxLen { break }
              }
            }
            cand = Int(prev[cand & windowMask])
            chain += 1
          }
        }
        if bestLen >= 3 {
          tokens.append(Token(len: UInt16(bestLen), dist: UInt16(bestDist)))
          if bestLen <= 32 {
            for k in 0..<bestLen { insert(i + k) }
          } else {
            for k in 0..<16 { insert(i + k) }
            insert(i + bestLen - 2); insert(i + bestLen - 1)
          }
          i += bestLen
        } else {
          tokens.append(Token(len: UInt16(d[i]), dist: 0))
          insert(i)
          i += 1
        }
      }
    }
    return tokens
  }

  @inline(__always)
  static func emit(_ tokens: [Token], _ w: inout BitWriter, lit: (Int) -> Int, litLen: (Int) -> Int, dist: (Int) -> Int, distLen: (Int) -> Int) {
    for t in tokens {
      if t.dist == 0 {
        w.writeCode(lit(Int(t.len)), litLen(Int(t.len)))
      } else {
        let len = Int(t.len), li = lengthIndex[len], sym = 257 + li
        w.writeCode(lit(sym), litLen(sym))
        w.write(len - Inflate.lengthBase[li], Inflate.lengthExtra[li])
        let dv = Int(t.dist), di = distIndex(dv)
        w.writeCode(dist(di), distLen(di))
        w.write(dv - Inflate.distBase[di], Inflate.distExtra[di])
      }
    }
  }

  /// Length (3...258) to its index in Inflate.lengthBase.
  static let lengthIndex: [Int] = {
    var t = [Int](repeating: 0, count: 259)
    for len in 3...258 {
      var li = 28
      while Inflate.lengthBase[li] > len { li -= 1 }
      t[len] = li
    }
    return t
  }()

  /// Distance (1...32768) to its index in Inflate.distBase.
  @inline(__always)
  static func distIndex(_ d: Int) -> Int {
    if d <= 4 { return d - 1 }
    let b = Int.bitWidth - 1 - (d - 1).leadingZeroBitCount   // d - 1 in [2^b, 2^(b+1))
    return 2 * b + ((d - 1) >> (b - 1) & 1)
  }

  /// Huffman code lengths for `freq` (0 for unused symbols), at most `limit` bits: Huffman's
  /// construction (two queues over the leaves sorted by frequency), then lengths over the limit cut
  /// down and the Kraft sum repaired as zlib's gen_bitlen does. A lone symbol gets length 1.
  static func huffmanLengths(_ freq: [Int], limit: Int) -> [Int] {
    var lengths = [Int](repeating: 0, count: freq.count)
    let used = freq.indices.filter { freq[$0] > 0 }
    if used.isEmpty { return lengths }
    if used.count == 1 { lengths[used[0]] = 1; return lengths }
    // Nodes: leaves then internal; parent links; a simple sorted-merge (two queues) construction.
    let leaves = used.sorted { (freq[$0], $0) < (freq[$1], $1) }
    var weight = leaves.map { freq[$0] }, parent = [Int](repeating: -1, count: 2 * leaves.count - 1)
    var q1 = 0, q2 = leaves.count
    weight.reserveCapacity(2 * leaves.count - 1)
    func pick() -> Int {
      if q1 < leaves.count && (q2 >= weight.count || weight[q1] <= weight[q2]) { q1 += 1; return q1 - 1 }
      q2 += 1
      return q2 - 1
    }
    while weight.count < 2 * leaves.count - 1 {
      let a = pick(), b = pick()
      parent[a] = weight.count; parent[b] = weight.count
      weight.append(weight[a] + weight[b])
    }
    var depth = [Int](repeating: 0, count: weight.count)
    for node in stride(from: weight.count - 2, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
    var count = [Int](repeating: 0, count: limit + 1)
    for i in 0..<leaves.count { count[Swift.min(depth[i], limit)] += 1 }
    // Clamping made the Kraft sum (in units of 2^-limit) exceed 2^limit; each step moves one leaf from a
    // shorter level one down and a leaf from the last level beside it, lowering the sum by one unit.
    var kraft = 0
    for l in 1...limit { kraft += count[l] << (limit - l) }
    while kraft > 1 << limit {
      var bits = limit - 1
      while count[bits] == 0 { bits -= 1 }
      count[bits] -= 1
      count[bits + 1] += 2
      count[limit] -= 1
      kraft -= 1
    }
    // Longest codes to the rarest symbols (leaves are sorted by frequency, rarest first).
    var i = 0
    for l in stride(from: limit, through: 1, by: -1) {
      for _ in 0..<count[l] { lengths[leaves[i]] = l; i += 1 }
    }
    return lengths
  }

  /// Canonical codes (RFC 1951 §3.2.2) of `lengths`.
  static func canonicalCodes(_ lengths: [Int]) -> [Int] {
    let maxLen = lengths.max() ?? 0
    var blCount = [Int](repeating: 0, count: maxLen + 1)
    for l in lengths where l > 0 { blCount[l] += 1 }
    var next = [Int](repeating: 0, count: maxLen + 2), code = 0
    if maxLen > 0 {
      for bits in 1...maxLen {
        code = (code + blCount[bits - 1]) << 1
        next[bits] = code
      }
    }
    var codes = [Int](repeating: 0, count: lengths.count)
    for (s, l) in lengths.enumerated() where l > 0 {
      codes[s] = next[l]
      next[l] += 1
    }
    return codes
  }

  /// HLIT, HDIST, HCLEN and the code-length code (RFC 1951 §3.2.7), the two tables' lengths run-length coded.
  static func writeDynamicHeader(_ w: inout BitWriter, litLen: [Int], distLen: [Int]) {
    var nlit = 286
    while nlit > 257 && litLen[nlit - 1] == 0 { nlit -= 1 }
    var ndist = 30
    while ndist > 1 && distLen[ndist - 1] == 0 { ndist -= 1 }
    var dl = Array(distLen[0..<ndist])
    if dl.allSatisfy({ $0 == 0 }) { dl[0] = 1 }   // one distance code of length 1 when none is used
    let all = Array(litLen[0..<nlit]) + dl
    // Run-length items: (symbol, extra value, extra bits).
    var items: [(Int, Int, Int)] = []
    var i = 0
    while i < all.count {
      let v = all[i]
      var run = 1
      while i + run < all.count && all[i + run] == v { run += 1 }
      var left = run
      if v == 0 {
        while left >= 11 { let r = Swift.min(left, 138); items.append((18, r - 11, 7)); left -= r }
        if left >= 3 { items.append((17, left - 3, 3)); left = 0 }
      } else {
        items.append((v, 0, 0)); left -= 1
        while left >= 3 { let r = Swift.min(left, 6); items.append((16, r - 3, 2)); left -= r }
      }
      for _ in 0..<left { items.append((v, 0, 0)) }
      i += run
    }
    var clFreq = [Int](repeating: 0, count: 19)
    for it in items { clFreq[it.0] += 1 }
    let clLen = huffmanLengths(clFreq, limit: 7), clCode = canonicalCodes(clLen)
    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
    var nclen = 19
    while nclen > 4 && clLen[order[nclen - 1]] == 0 { nclen -= 1 }
    w.write(nlit - 257, 5)
    w.write(ndist - 1, 5)
    w.write(nclen - 4, 4)
    for k in 0..<nclen { w.write(clLen[order[k]], 3) }
    for it in items {
      w.writeCode(clCode[it.0], clLen[it.0])
      w.write(it.1, it.2)
    }
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

  /// Bits written so far.
  var bitCount: Int { bytes.count * 8 + count }

  /// Appends every bit `other` holds.
  mutating func append(_ other: BitWriter) {
    for b in other.bytes { write(Int(b), 8) }
    write(Int(truncatingIfNeeded: other.buffer), other.count)
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
    var raw = [UInt8](repeating: 0, count: h * (rb + 1))
    var zero = [UInt8](repeating: 0, count: rb), candidate = [UInt8](repeating: 0, count: 4 * rb)
    image.pixels.withUnsafeBufferPointer { px in
      raw.withUnsafeMutableBufferPointer { rp in
        zero.withUnsafeMutableBufferPointer { zp in
          candidate.withUnsafeMutableBufferPointer { cp in
            for y in 0..<h {
              let cur = px.baseAddress! + y * rb, prev = y > 0 ? UnsafePointer(px.baseAddress! + (y - 1) * rb) : UnsafePointer(zp.baseAddress!)
              let dst = rp.baseAddress! + y * (rb + 1) + 1
              let sub = cp.baseAddress!, up = sub + rb, avg = up + rb, paeth = avg + rb
              // The four predictors in plain loops (the first three vectorize), costs as the sum of |signed byte|.
              for i in 0..<Swift.min(ch, rb) {
                let b = prev[i]
                sub[i] = cur[i]; up[i] = cur[i] &- b; avg[i] = cur[i] &- (b >> 1); paeth[i] = cur[i] &- b
              }
              if rb > ch {
                // Over pointers offset by one pixel, so that the loop index has no overflow check: every
                // predictor vectorizes, Paeth in Int16 without branches (pa = |b - c|, pb = |a - c|, pc = |a + b - 2c|).
                let x = cur + ch, left = cur, above = prev + ch, aboveLeft = prev, m = rb - ch
                let subOut = sub + ch, upOut = up + ch, avgOut = avg + ch, paethOut = paeth + ch
                for j in 0..<m { subOut[j] = x[j] &- left[j] }
                for j in 0..<m { upOut[j] = x[j] &- above[j] }
                for j in 0..<m { avgOut[j] = x[j] &- UInt8(truncatingIfNeeded: (UInt16(left[j]) &+ UInt16(above[j])) >> 1) }
                for j in 0..<m {
                  let a = Int16(left[j]), b = Int16(above[j]), c = Int16(aboveLeft[j])
                  let pa = (b &- c).magnitude, pb = (a &- c).magnitude, pc = (a &+ b &- c &- c).magnitude
                  let bc = pb <= pc ? b : c
                  paethOut[j] = x[j] &- UInt8(truncatingIfNeeded: pa <= Swift.min(pb, pc) ? a : bc)
                }
              }
              func cost(_ row: UnsafePointer<UInt8>) -> Int {
                var s: UInt32 = 0
                for i in 0..<rb { s &+= UInt32(Int8(bitPattern: row[i]).magnitude) }
                return Int(s)
              }
              var bestFilter = 0, bestCost = cost(cur)
              for f in 1...4 {
                let c = cost(sub + (f - 1) * rb)
                if c < bestCost { bestCost = c; bestFilter = f }
              }
              dst[-1] = UInt8(bestFilter)
              (dst).update(from: bestFilter == 0 ? cur : UnsafePointer(sub + (bestFilter - 1) * rb), count: rb)
            }
          }
        }
      }
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
