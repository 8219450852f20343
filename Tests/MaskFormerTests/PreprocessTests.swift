// pixel_values bit for bit against transformers' MaskFormerImageProcessor (PIL backend) on real
// photos and synthetic images (max-size rule, odd sizes, EXIF orientations, gray, palette, RGBA).
import Foundation
import ImageCodecs
import MaskFormerInt8
import Testing
import _TestSupport

struct PreprocessGolden: Decodable, Sendable, CustomTestStringConvertible {
  var image: String
  var config: String
  var original: [Int]
  var shape: [Int]
  var sha256: String
  var resized_uint8_sha256: String
  var first_values: [Float]
  var testDescription: String { "\(image) [\(config)]" }

  static var all: [PreprocessGolden] {
    struct File: Decodable { var entries: [PreprocessGolden] }
    let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("preprocess", "golden.json")))
    return try! JSONDecoder().decode(File.self, from: data).entries
  }
}

@Suite struct PreprocessTests {
  static let configs: [String: PreprocessorConfig] = [
    "ade": PreprocessorConfig(size: .shortestEdge(512, longestEdge: 2048)),
    "coco": PreprocessorConfig(size: .shortestEdge(800, longestEdge: 1333)),
  ]

  @Test(arguments: PreprocessGolden.all)
  func pixelValuesEqualTransformers(_ g: PreprocessGolden) throws {
    let repo = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
    let bytes = [UInt8](try Data(contentsOf: repo.appendingPathComponent(g.image)))
    let image = try ImageDecoder.decode(bytes).oriented().rgb()
    #expect([image.height, image.width] == g.original, "oriented size")
    let config = try #require(Self.configs[g.config])
    let pv = ImageProcessor.pixelValues(image, config: config)
    #expect([3, pv.height, pv.width] == g.shape, "output size")
    guard [3, pv.height, pv.width] == g.shape else { return }
    let resized = pv.height == image.height && pv.width == image.width ? image
      : PillowResize.bilinear(image, width: pv.width, height: pv.height)
    #expect(SHA256.hex(resized.pixels) == g.resized_uint8_sha256, "Pillow bilinear resize differs")
    #expect(SHA256.hex(Array(pv.data)) == g.sha256, "pixel_values differ; first values ours \(Array(pv.data.prefix(4))) vs \(g.first_values)")
  }

  @Test func sizeRuleExamplesFromTheSpec() {
    let c = PreprocessorConfig(size: .shortestEdge(512, longestEdge: 2048))
    let cases: [((Int, Int), (Int, Int))] = [((480, 640), (512, 704)), ((512, 683), (512, 704)), ((300, 2000), (320, 2048)),
                                            ((1000, 700), (736, 512)), ((100, 100), (512, 512))]
    for ((h, w), want) in cases {
      let got = ImageProcessor.outputSize(height: h, width: w, config: c)
      #expect(got == want, "\(h)x\(w) -> \(got), expected \(want)")
    }
    let coco = ImageProcessor.outputSize(height: 480, width: 640, config: PreprocessorConfig(size: .shortestEdge(800, longestEdge: 1333)))
    #expect(coco == (800, 1088))
  }
}
