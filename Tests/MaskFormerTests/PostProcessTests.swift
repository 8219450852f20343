// Semantic, instance and panoptic post-processing against transformers on seeded logits
// (tools/reference/postprocess_goldens.py): identical maps (SHA-256 of the int32 map), identical
// segment lists (ids, labels, fused flags, areas) and scores within 1e-6; MaskFormerImageProcessor's
// (golden.json) and Mask2FormerImageProcessor's (golden_mask2former.json: logits resized to 384 × 384 first).
import Converter
import Foundation
import MaskFormerInt8
import Testing
import _TestSupport

struct PostProcessGolden: Decodable, Sendable, CustomTestStringConvertible {
  struct Params: Decodable, Sendable { var defaults: String?; var fuse: [Int]? }
  struct Seg: Decodable, Sendable { var id: Int; var label_id: Int; var was_fused: Bool; var score: Double? }
  var `case`: String
  var task: String
  var target: [Int]?
  var params: Params
  var map_sha256: String
  var shape: [Int]
  var segments: [Seg]?
  var areas: [Int]?
  var classes: [Int]?
  var testDescription: String {
    "\(self.case) \(task) target \(target.map { "\($0)" } ?? "none") \(params.defaults ?? "") fuse \(params.fuse?.count ?? 0)"
  }

  static var all: [PostProcessGolden] { load("golden.json") }
  static var mask2Former: [PostProcessGolden] { load("golden_mask2former.json") }

  static func load(_ file: String) -> [PostProcessGolden] {
    let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("postprocess", file)))
    return try! JSONDecoder().decode([PostProcessGolden].self, from: data)
  }

  var options: SegmentationOptions {
    let (thr, mthr, ov) = params.defaults == "pipeline" ? (0.9, 0.5, 0.5) : (0.5, 0.5, 0.8)
    return SegmentationOptions(task: Segmentation.Task(rawValue: task)!, threshold: thr, maskThreshold: mthr, overlapMaskAreaThreshold: ov,
                               labelIdsToFuse: Set(params.fuse ?? []))
  }

  /// The result agrees with this golden.
  func check(_ seg: Segmentation) {
    #expect([seg.height, seg.width] == shape)
    if let classes { #expect(seg.segments.map(\.labelId) == classes, "classes present") }
    if let expected = segments {
      #expect(seg.segments.map(\.id) == expected.map(\.id), "ids")
      #expect(seg.segments.map(\.labelId) == expected.map(\.label_id), "labels")
      #expect(seg.segments.map(\.wasFused) == expected.map(\.was_fused), "fused flags")
      #expect(seg.segments.map(\.area) == areas, "areas")
      for (a, b) in zip(seg.segments, expected) {
        #expect(abs((a.score ?? -1) - (b.score ?? -1)) <= Tolerance.segmentScore, "segment \(a.id) score \(a.score ?? -1) vs \(b.score ?? -1)")
      }
    }
    #expect(SHA256.hex(seg.map.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }) == map_sha256, "map differs")
  }
}

@Suite struct PostProcessTests {
  func logits(_ name: String) throws -> MaskLogits {
    let f = try SafetensorsFile(path: Fixtures.path("postprocess", name + ".safetensors"))
    let c = try f.tensor("class_queries_logits"), m = try f.tensor("masks_queries_logits")
    return MaskLogits(classLogits: Array(UnsafeBufferPointer(start: c.pointer, count: c.count)),
                      maskLogits: Array(UnsafeBufferPointer(start: m.pointer, count: m.count)),
                      queries: c.shape[1], classes: c.shape[2], height: m.shape[2], width: m.shape[3])
  }

  @Test(arguments: PostProcessGolden.all)
  func matchesTransformers(_ g: PostProcessGolden) throws {
    let m = try logits(g.case)
    let target = g.target.map { (height: $0[0], width: $0[1]) }
    g.check(Segmentation.postprocess(m, options: g.options, target: target ?? (m.height, m.width)))
  }

  @Test(arguments: PostProcessGolden.mask2Former)
  func mask2FormerMatchesTransformers(_ g: PostProcessGolden) throws {
    g.check(Mask2Former.postprocess(try logits(g.case), options: g.options, target: g.target.map { (height: $0[0], width: $0[1]) }))
  }

  /// Scores are Python's `round(score, 6)`; the goldens compare them within 1e-6, which a wrong rounding
  /// passes, so the rounding is pinned here to the 6-decimal text of the exact value (as Python rounds):
  /// half-even ties (0.0078125 -> 0.007812), the ends of [0, 1] and a seeded sweep of float32 scores.
  @Test func scoresRoundAsPython() {
    var values: [Float] = [0, 1, 0.5, 0.0078125, 0.0234375, 0.9999995, 0.9999996, 1e-7, 4.9999997e-7, 5e-7, -0.0078125]
    var state: UInt64 = 0x9E3779B97F4A7C15
    for _ in 0..<200_000 {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 33) % 0x3F80_0001))   // [0, 1]
    }
    var mismatches = 0
    for x in values where roundScore(x) != Double(String(format: "%.6f", Double(x)))! { mismatches += 1 }
    #expect(mismatches == 0)
    #expect(roundScore(0.0078125) == 0.007812)
  }

  @Test func goldensExerciseSegments() {
    // A guard against goldens that test nothing: segments of every task, fused ones, and both topk paths.
    for all in [PostProcessGolden.all, PostProcessGolden.mask2Former] {
    #expect(all.contains { $0.task == "panoptic" && ($0.segments?.contains { $0.was_fused } ?? false) })
    #expect(all.filter { $0.task == "instance" }.map { $0.segments?.count ?? 0 }.reduce(0, +) > 20)
    #expect(all.filter { $0.task == "panoptic" }.map { $0.segments?.count ?? 0 }.reduce(0, +) > 10)
    #expect(Set(all.map(\.case)).count >= 2)
    }
  }
}
