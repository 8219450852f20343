// The JPEG decoder against Pillow (libjpeg-turbo) on a corpus made by tools/images/make_jpeg_corpus.py:
// baseline/progressive, qualities, subsamplings, gray, restart intervals, odd sizes, EXIF orientations.
import Foundation
import ImageCodecs
import Testing
import _TestSupport

struct JPEGEntry: Decodable, Sendable, CustomTestStringConvertible {
  var name: String
  var width: Int
  var height: Int
  var exif_transpose: Bool
  var sha256: String?
  var testDescription: String { name }

  static var all: [JPEGEntry] {
    let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg", "manifest.json")))
    return try! JSONDecoder().decode([JPEGEntry].self, from: data)
  }
}

@Suite struct JPEGTests {
  /// Exact: the decoder implements libjpeg's islow IDCT, fancy upsampling and YCbCr tables.
  @Test(arguments: JPEGEntry.all)
  func decodesLikePillow(_ e: JPEGEntry) throws {
    var image = try ImageDecoder.decode(try readBytes(Fixtures.path("jpeg", e.name + ".jpg")))
    if e.exif_transpose { image = image.oriented() }
    let rgb = image.rgb()
    #expect(rgb.width == e.width && rgb.height == e.height, "size \(rgb.width)x\(rgb.height)")
    if let digest = e.sha256 {
      #expect(SHA256.hex(rgb.pixels) == digest, "\(e.name): pixels differ from Pillow")
      return
    }
    let expected = try ImageDecoder.decode(try readBytes(Fixtures.path("jpeg", e.name + ".expected.png"))).rgb()
    var maxDiff = 0, first = -1
    for i in 0..<min(rgb.pixels.count, expected.pixels.count) {
      let d = abs(Int(rgb.pixels[i]) - Int(expected.pixels[i]))
      if d > 0 && first < 0 { first = i }
      maxDiff = max(maxDiff, d)
    }
    #expect(maxDiff == 0, "\(e.name): max difference \(maxDiff), first at byte \(first)")
  }
}
