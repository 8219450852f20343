// The PNG decoder bit-exact against Pillow on a corpus of every colour type, bit depth and
// interlacing (tools/images/make_png_corpus.py), and the encoder round trip.
import Foundation
import ImageCodecs
import Testing
import _TestSupport

struct CorpusEntry: Decodable, Sendable, CustomTestStringConvertible {
  var name: String
  var width: Int
  var height: Int
  var pillow_mode: String
  var exif_transpose: Bool?
  var testDescription: String { "\(name) (Pillow mode \(pillow_mode))" }

  static var png: [CorpusEntry] {
    let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("png", "manifest.json")))
    return try! JSONDecoder().decode([CorpusEntry].self, from: data)
  }
}


@Suite struct PNGTests {
  @Test(arguments: CorpusEntry.png)
  func decodesLikePillow(_ e: CorpusEntry) throws {
    var image = try ImageDecoder.decode(try readBytes(Fixtures.path("png", e.name + ".png")))
    if e.exif_transpose == true { image = image.oriented() }
    let rgb = image.rgb()
    let expected = try readBytes(Fixtures.path("png", e.name + ".rgb"))
    #expect(rgb.width == e.width && rgb.height == e.height, "size \(rgb.width)x\(rgb.height)")
    let firstDiff = zip(rgb.pixels, expected).enumerated().first { $0.element.0 != $0.element.1 }
    #expect(rgb.pixels.count == expected.count && firstDiff == nil,
            "\(e.name): byte \(firstDiff?.offset ?? -1): ours \(firstDiff?.element.0 ?? 0) vs Pillow \(firstDiff?.element.1 ?? 0)")
  }

  @Test(arguments: [Image.Layout.gray, .grayAlpha, .rgb, .rgba])
  func encoderRoundTripsAndCompresses(_ layout: Image.Layout) throws {
    var rng = SplitMix64(seed: UInt64(layout.rawValue))
    let (w, h) = (97, 61)
    // Smooth gradients plus noise: compressible, but not trivially.
    var pixels = [UInt8](repeating: 0, count: w * h * layout.channels)
    for y in 0..<h {
      for x in 0..<w {
        for c in 0..<layout.channels {
          pixels[(y * w + x) * layout.channels + c] = UInt8(truncatingIfNeeded: x * 2 + y * c + Int(rng.next() % 3))
        }
      }
    }
    let image = Image(width: w, height: h, layout: layout, pixels: pixels)
    let png = PNG.encode(image)
    #expect(try ImageDecoder.decode(png) == image)
    // Stored blocks would be > 100 %; zlib -9 reaches ~45 % on this data, fixed-Huffman LZ77 ~53 %.
    #expect(png.count * 10 < pixels.count * 6, "\(png.count) bytes for \(pixels.count) raw: not compressing")
  }

  @Test func encoderHandlesLongRunsAndEmptyMasks() throws {
    let mask = Image(width: 640, height: 480, layout: .gray, pixels: [UInt8](repeating: 0, count: 640 * 480))
    let png = PNG.encode(mask)
    #expect(try ImageDecoder.decode(png) == mask)
    // 258-byte matches: at 13 bits each with the fixed codes ~0.6 % of the raw size; with codes built for
    // the data (one length symbol, one distance: 2 bits a match) zlib reaches ~0.1 %, and so must we.
    #expect(png.count * 1000 < mask.pixels.count * 2, "an all-zero 640x480 mask takes \(png.count) bytes")
  }

  /// Dynamic Huffman codes at their limits: byte frequencies in a Fibonacci progression make an
  /// unlimited Huffman tree 24 levels deep (DEFLATE allows 15), shuffled so LZ77 finds few matches; more
  /// than 32 KiB, so matches reach across the whole window; and tiny images, where the fixed codes win.
  @Test func encoderLimitsCodeLengthsAndRoundTrips() throws {
    var rng = SplitMix64(seed: 19)
    var fib = [1, 1]
    while fib.count < 25 { fib.append(fib[fib.count - 1] + fib[fib.count - 2]) }
    var bytes: [UInt8] = []
    for (v, n) in fib.enumerated() { bytes += [UInt8](repeating: UInt8(v * 9), count: n) }
    for i in stride(from: bytes.count - 1, to: 0, by: -1) { bytes.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    let w = 512, h = (bytes.count + w - 1) / w
    bytes += [UInt8](repeating: 0, count: w * h - bytes.count)
    for image in [Image(width: w, height: h, layout: .gray, pixels: bytes),
                  Image(width: 1, height: 1, layout: .gray, pixels: [7]),
                  Image(width: 3, height: 2, layout: .rgb, pixels: (0..<18).map { UInt8($0 * 13) }),
                  Image(width: 300, height: 300, layout: .rgba, pixels: (0..<360_000).map { UInt8(truncatingIfNeeded: $0 / 7 ^ $0 % 5) })] {
      let png = PNG.encode(image)
      #expect(try ImageDecoder.decode(png) == image, "\(image.width)x\(image.height) \(image.layout)")
    }
  }
}
