// MemoryPlan: the dry run against a real run, phase by phase; the streaming a budget picks, and
// refusals below the leanest plan.
import Converter
import EdgeSeg
import Foundation
import Kernels
import Testing
import _TestSupport

@Suite struct MemoryPlanTests {
  /// Streaming settings that stream even the fixtures' small maps (the candidates do so only on large
  /// images): whole maps, chunks of a few windows and bands of a few rows, and the tightest settings.
  static let streaming: [(tokenChunk: Int, bandRows: Int)] = [(.max, .max), (32, 2)]

  /// Every fixture model, float and int8 (the bundled demo model, the three-stage fixture converted),
  /// at an odd image size, whole maps and streamed in chunks of one window and bands of two rows, the
  /// best kernels on 2 threads and the portable ones on 1: each phase's dry-run peak of live arena bytes equals a real run's (measured by
  /// the same observer on the session's arena, post-processing included), within the 1 % the issue
  /// allows (it is exact: the same requests in the same order). A block whose allocation changes
  /// without its dry run changing with it (or a data loop left unguarded: a fault) fails here.
  @Test func dryRunEqualsTheRealRunInEveryPhase() throws {
    var models: [(String, SegmentationModel)] = try Fixtures.models.map { ($0, try SegmentationModel(path: Fixtures.path($0))) }
    for name in ["threestage"] {
      let converted = try Int8ModelTests.convertTiny(name)
      defer { try? FileManager.default.removeItem(atPath: converted.path) }
      models.append(("\(name) int8", try SegmentationModel(file: converted.file)))
    }
    models.append(("shapes int8", try SegmentationModel(path: Fixtures.repository + "/Models/shapes/model.int8.eseg")))
    // Mask2Former (issue 21): its pixel decoder's token chunks, int8 values and masked decoder, at a 64-pixel edge.
    models.append(("mask2former/tiny", try SegmentationModel(path: Fixtures.path("mask2former/tiny")).resized(shortestEdge: 64)))
    // Its int8 file too: streamed, the stride-4 level keeps the mask projection's int8 input.
    let m2f = NSTemporaryDirectory() + "edge-seg-plan-m2f-\(UUID().uuidString).eseg"
    defer { try? FileManager.default.removeItem(atPath: m2f) }
    var options = ConvertOptions()
    (options.calibrationDirectory, options.samples) = (Fixtures.repository + "/Calibration", 1)
    try ModelConverter.convert(try Mask2FormerCheckpoint(directory: Fixtures.path("mask2former/tiny")), options: options, to: m2f) { _, _, _ in }
    models.append(("mask2former/tiny int8", try SegmentationModel(path: m2f).resized(shortestEdge: 64)))
    var compared = 0
    for (name, model) in models {
      do {
        let (h, w) = (53, 91)
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let image = Image(width: w, height: h, layout: .rgb, pixels: pixels)
        for s in Self.streaming {
          // A second kernel table whose GEMM scratch differs (AVX2 where the CPU has it: the portable
          // float tier calls libm's fmaf per product on baseline x86-64, minutes per run in a debug build)
          // on the two smallest models.
          let small = name.hasPrefix("shapes") || name.hasPrefix("threestage")
          let other = KernelTable.named("avx2", features: .detect()) ?? KernelTable(f32GEMM: .portable)
          let settings = [(2, KernelTable.best(for: .detect()))] + (small ? [(1, other)] : [])
          for (threads, kernels) in settings {
            let c = SessionConfiguration(threads: threads, kernels: kernels, memory: .streaming(tokenChunk: s.tokenChunk, bandRows: s.bandRows))
            let session = try model.session(for: image, configuration: c)
            let phases = MemoryPhases(arena: session.arena)
            session.observer = phases
            // Every query kept (threshold below any score): panoptic takes its owner map.
            var options = SegmentationOptions.pipeline
            options.threshold = -1
            _ = try session.segment(image, options: options)
            let real: [(name: String, bytes: Int)] = phases.peaks, dry: [MemoryPlan.Phase] = session.plan.phases
            let what = "\(name) \(w)x\(h) chunk \(s.tokenChunk) band \(s.bandRows) threads \(threads)"
            #expect(session.arena.statistics.fallbacks == 0, "\(what): the plan's arena holds the run")
            #expect(dry.map { $0.name } == real.map { $0.name }, "\(what): phases")
            for (d, r) in zip(dry, real) {
              #expect(abs(d.arenaBytes - r.bytes) <= r.bytes / 100, "\(what): \(d.name): dry run \(d.arenaBytes) B, real run \(r.bytes) B")
              compared += 1
            }
            let post = real.first { $0.name == "postprocess" }?.bytes ?? 0
            #expect(post >= 4 * h * w, "\(what): post-processing took its owner map")
          }
        }
      }
    }
    #expect(compared > 150, "\(compared) phases compared")
  }

  /// Leaner candidates predict less; a generous budget keeps whole maps (fastest), a tight one
  /// streams, and one below the leanest prediction is refused.
  @Test func choosesTheFastestPlanThatFits() throws {
    let network = try SegmentationModel(path: Fixtures.path("tiny")).network
    let input = (height: 1024, width: 1024), image = (height: 1024, width: 1024), kernels = KernelTable(f32GEMM: .portable)
    let predictions = MemoryPlan.candidates.map {
      network.memoryPlan(input: input, image: image, tokenChunk: $0.tokenChunk, bandRows: $0.bandRows, kernels: kernels, threads: 2).predictedBytes
    }
    #expect(zip(predictions, predictions.dropFirst()).allSatisfy { $0 >= $1 }, "\(predictions)")
    #expect(predictions.first! > predictions.last!)
    func choose(_ budget: Int) -> Result<MemoryPlan, MemoryPlanError> {
      network.memoryPlan(input: input, image: image, budget: budget, kernels: kernels, threads: 2)
    }
    guard case .success(let whole) = choose(1 << 40) else {
      Issue.record("a 1 TiB budget must fit"); return
    }
    #expect(whole.bandRows == .max)
    guard case .success(let lean) = choose(Int((Double(predictions.last!) * (1 + MemoryPlan.margin)).rounded(.up))) else {
      Issue.record("the leanest prediction must fit its own budget"); return
    }
    #expect(lean.bandRows < .max && lean.predictedBytes <= predictions.last!)
    guard case .failure(let e) = choose(predictions.last!) else {
      Issue.record("a budget below the leanest prediction must be refused"); return
    }
    #expect(e.leanest.predictedBytes == predictions.last!)
    // Where none fits, the automatic policy takes the fastest candidate predicted within 1/32 of the leanest.
    let near = predictions.firstIndex { Double($0) <= Double(predictions.last!) * (1 + MemoryPlan.nearLeanest) }!
    #expect(e.nearLeanest.predictedBytes == predictions[near])
    #expect(e.nearLeanest.tokenChunk == MemoryPlan.candidates[near].tokenChunk && e.nearLeanest.bandRows == MemoryPlan.candidates[near].bandRows)
  }
}
