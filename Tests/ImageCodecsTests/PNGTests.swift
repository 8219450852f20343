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
    // Stored blocks would be > 100 %; zlib -9 reaches ~45 % on this data, our fixed-Huffman LZ77 ~53 %.
    #expect(png.count * 10 < pixels.count * 6, "\(png.count) bytes for \(pixels.count) raw: not compressing")
  }

  @Test func encoderHandlesLongRunsAndEmptyMasks() throws {
    let mask = Image(width: 640, height: 480, layout: .gray, pixels: [UInt8](repeating: 0, count: 640 * 480))
    let png = PNG.encode(mask)
    #expect(try ImageDecoder.decode(png) == mask)
    // 258-byte matches at 13 bits each: ~0.6 % of the raw size (zlib's dynamic codes reach ~0.1 %).
    #expect(png.count * 100 < mask.pixels.count, "an all-zero 640x480 mask takes \(png.count) bytes")
  }
}
