// The app-facing library: README's example compiled and run as written (one import), a checkpoint
// folder and a model file opened by path, sessions for an image size reused image after image, and the
// float16 file planned as float (not as int8).
import Converter
import EdgeSeg
import Foundation
import Testing
import _TestSupport

@Suite struct LibraryAPITests {
  /// README, "Library use", between the markers: keep the two identical (ReadmeSnippetTests checks).
  static func readmeExample(modelPath: String, imagePath: String) throws -> [String] {
    var lines: [String] = []
    // README example begins
    let model = try SegmentationModel(path: modelPath)        // a model file (.eseg) or a checkpoint folder
    let image = try ImageDecoder.decode(contentsOfFile: imagePath)
    let session = try model.session(for: image)                // one arena and memory plan for this image size
    let result = try session.segment(image)                    // pipeline("image-segmentation") defaults
    for s in result.segments {
      print(result.labels[s.labelId], s.score ?? 0, s.area)
      lines.append(result.labels[s.labelId])
    }
    // result.segmentMap[y * width + x] is the segment id of each pixel; result.labelMap its label id.
    // README example ends
    return lines
  }

  @Test func readmeExampleRuns() throws {
    let lines = try Self.readmeExample(modelPath: Fixtures.repository + "/Models/shapes/model.int8.eseg",
                                       imagePath: Fixtures.repository + "/Examples/shapes-2.png")
    #expect(!lines.isEmpty, "the bundled model finds segments in its example image")
  }

  /// The example in README.md is the one compiled above, line for line (the test's bookkeeping lines,
  /// `lines...`, aside).
  @Test func readmeShowsTheCompiledExample() throws {
    func block(_ text: String) -> [String] {
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      guard let a = lines.firstIndex(of: "// README example begins"), let b = lines.firstIndex(of: "// README example ends"), a < b else { return [] }
      return lines[(a + 1)..<b].filter { !$0.isEmpty && !$0.hasPrefix("lines.") }
    }
    let ours = block(try String(contentsOfFile: #filePath, encoding: .utf8))
    let readme = try String(contentsOfFile: Fixtures.repository + "/README.md", encoding: .utf8)
    #expect(ours.count >= 6 && block(readme) == ours, "README's example differs from the compiled one:\n\(block(readme).joined(separator: "\n"))")
    #expect(readme.contains("```swift\nimport EdgeSeg\n\n"), "README's example imports EdgeSeg alone")
  }

  @Test func segmentAnImageInMemory() throws {
    let model = try SegmentationModel(path: Fixtures.path("tiny"))
    #expect(model.precision == .float32)
    // A synthetic 40x30 RGB image: pixels in memory, no file.
    var pixels = [UInt8](repeating: 0, count: 40 * 30 * 3)
    for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: i * 7) }
    let image = Image(width: 40, height: 30, layout: .rgb, pixels: pixels)
    let session = try model.session(for: image, configuration: SessionConfiguration(threads: 2))
    let result = try session.segment(image, options: .pipeline(.semantic))
    let s = result.segmentation
    #expect(s.width == 40 && s.height == 30 && s.map.count == 1200)
    #expect(!s.segments.isEmpty && s.segments.map(\.area).reduce(0, +) == 1200, "semantic segments tile the image")
    #expect(result.timings.map(\.step) == ["preprocess", "model", "postprocess"])
    #expect(result.inputHeight == 512 && result.inputWidth == 704, "30x40 -> shortest edge 512 -> 512x683 -> 512x704")
    #expect(result.labelMap == s.map, "semantic: segment ids are label ids")
    // Every buffer went back; the session's arena served the run.
    #expect(session.arena.statistics.inUse == 0 && session.arena.statistics.allocations > 100, "\(session.arena.statistics)")
    // A second image of the same size reuses the session; another size is refused.
    #expect(try session.segment(image, options: .pipeline(.semantic)).segmentation == s)
    #expect(throws: SessionError.self) { try session.segment(Image(width: 41, height: 30, layout: .rgb, pixels: [UInt8](repeating: 0, count: 41 * 90))) }
  }

  /// A float16 file runs float activations: its plan is the float32 file's, not the int8 one's.
  @Test func float16FileIsPlannedAsFloat() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-f16-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let f16 = dir + "/tiny.f16.eseg", f32 = dir + "/tiny.f32.eseg"
    for (precision, path) in [(Precision.float16, f16), (.float32, f32)] {
      var options = ConvertOptions()
      options.precision = precision
      try ModelConverter.convert(try Checkpoint(directory: Fixtures.path("tiny")), options: options, to: path) { _, _, _ in }
    }
    let half = try SegmentationModel(path: f16), full = try SegmentationModel(path: f32)
    #expect(half.precision == .float16 && full.precision == .float32 && !half.network.isQuantized)
    let a = try half.session(height: 300, width: 400).plan, b = try full.session(height: 300, width: 400).plan
    #expect(a.predictedBytes == b.predictedBytes && a.arenaBytes == b.arenaBytes)
    #expect(half.heapWeightBytes > 0 && full.heapWeightBytes == 0, "float16 weights are widened onto the heap")
  }
}
