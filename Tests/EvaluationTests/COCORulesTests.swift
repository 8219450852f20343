// Panoptic quality by the COCO rules (issue 20): crowd regions, void pixels, a ground-truth segment listed
// without pixels and JSON areas, against goldens computed by an independent implementation of
// panopticapi's pq_compute (tools/reference/pq_reference.py, on the committed Tests/Fixtures/pq-crowd).
// Tolerance 1e-9: both sum the same IoUs in double precision, in possibly different orders.
import Foundation
import ImageCodecs
import MaskFormerInt8
import Testing
import _TestSupport
import Evaluation

@Suite struct COCORulesTests {
  let root = Fixtures.repository + "/Tests/Fixtures/pq-crowd"

  struct PredAnnotation: Decodable {
    struct Info: Decodable { var id: Int; var category_id: Int }
    var file_name: String
    var segments_info: [Info]
  }
  struct PredFile: Decodable { var annotations: [PredAnnotation] }

  func ids(_ path: String) throws -> (ids: [Int32], width: Int, height: Int) {
    let img = try ImageDecoder.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))).rgb()
    let ids = (0..<(img.width * img.height)).map { p in
      Int32(img.pixels[3 * p]) | Int32(img.pixels[3 * p + 1]) << 8 | Int32(img.pixels[3 * p + 2]) << 16
    }
    return (ids, img.width, img.height)
  }

  func score(crowdAware: Bool = true) throws -> (all: PanopticQuality.Scores, things: PanopticQuality.Scores, stuff: PanopticQuality.Scores) {
    let gt = try PanopticDataset(directory: root + "/gt")
    let preds = try JSONDecoder().decode(PredFile.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/pred/panoptic.json")))
    let byName = Dictionary(uniqueKeysWithValues: preds.annotations.map { ($0.file_name, $0) })
    var pq = PanopticQuality(thingIds: Set(gt.categories.filter { $0.isthing == 1 }.map(\.id)), categories: Set(gt.categories.map(\.id)))
    for i in 0..<gt.count {
      let s = try gt.sample(i)
      let a = try #require(byName[s.name])
      let p = try ids(root + "/pred/panoptic/" + s.name)
      let segments = a.segments_info.map { Segment(id: $0.id, labelId: $0.category_id, score: 1, wasFused: false) }
      let prediction = Segmentation(task: .panoptic, width: p.width, height: p.height, map: p.ids, segments: segments)
      let truth = s.segments.map {
        GroundTruthSegment(id: $0.id, category: $0.category_id, isCrowd: crowdAware && $0.iscrowd == 1, area: crowdAware ? $0.area : nil)
      }
      try pq.add(gtIds: s.ids, gtSegments: truth, prediction: prediction, image: s.name)
    }
    return pq.scores()
  }

  @Test func matchesTheReferenceImplementation() throws {
    let goldens = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/goldens.json"))) as? [String: Any])
    let s = try score()
    for (name, got) in [("all", s.all), ("things", s.things), ("stuff", s.stuff)] {
      let want = try #require(goldens[name] as? [String: Any])
      for (key, value) in [("pq", got.pq), ("sq", got.sq), ("rq", got.rq)] {
        let w = try #require(want[key] as? Double)
        #expect(abs(value - w) <= 1e-9, "\(name) \(key): \(value) vs the reference's \(w)")
      }
      #expect(got.categories == want["n"] as? Int, "\(name): categories")
    }
    // The crowd regions change the score: treated as ordinary segments, PQ differs (the rule is exercised).
    let plain = try score(crowdAware: false)
    #expect(abs(plain.all.pq - s.all.pq) > 0.1, "crowd handling made no difference: \(plain.all.pq) vs \(s.all.pq)")
  }

  @Test func categoriesOutsideTheDatasetAreRefused() throws {
    var pq = PanopticQuality(thingIds: [0], categories: [0, 1])
    let map: [Int32] = [1, 1, 2, 2]
    let pred = Segmentation(task: .panoptic, width: 4, height: 1, map: map, segments: [Segment(id: 1, labelId: 5, score: 1, wasFused: false)])
    #expect(throws: PanopticQualityError.self) {
      try pq.add(gtIds: map, gtSegments: [GroundTruthSegment(id: 1, category: 0)], prediction: pred, image: "x.png")
    }
    #expect(throws: PanopticQualityError.self) {
      try pq.add(gtIds: map, gtSegments: [GroundTruthSegment(id: 1, category: 9)], prediction: pred, image: "x.png")
    }
  }
}
