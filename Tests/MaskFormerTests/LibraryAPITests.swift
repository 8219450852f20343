// The README's library example, as a test: open a checkpoint, segment an image held in memory.
import Converter
import Dispatch
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct LibraryAPITests {
  @Test func segmentAnImageInMemory() throws {
    let checkpoint = try Checkpoint(directory: Fixtures.path("tiny"))
    let segmenter = Segmenter(model: checkpoint.model, preprocessor: checkpoint.preprocessor)
    // A synthetic 40x30 RGB image: pixels in memory, no file.
    var pixels = [UInt8](repeating: 0, count: 40 * 30 * 3)
    for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: i * 7) }
    let image = Image(width: 40, height: 30, layout: .rgb, pixels: pixels)
    var context = InferenceContext(kernels: .best(for: .detect()), threads: 2)
    context.arena = segmenter.arena(forImage: image.orientedSize, context: context)
    var options = SegmentationOptions.pipeline
    options.task = .semantic
    let result = segmenter.segment(image, options: options, context: context) { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    let s = result.segmentation
    #expect(s.width == 40 && s.height == 30 && s.map.count == 1200)
    #expect(!s.segments.isEmpty && s.segments.map(\.area).reduce(0, +) == 1200, "semantic segments tile the image")
    #expect(result.timings.map(\.step) == ["preprocess", "model", "postprocess"])
    #expect(result.inputHeight == 512 && result.inputWidth == 704, "30x40 -> shortest edge 512 -> 512x683 -> 512x704")
    // Every buffer went back; the arena served the run (its size is checked on int8 models, where
    // MemoryPlan is calibrated, by ArenaTests; this float model may overflow it by a buffer).
    let arena = try #require(context.arena)
    #expect(arena.statistics.inUse == 0 && arena.statistics.allocations > 100, "\(arena.statistics)")
  }
}
