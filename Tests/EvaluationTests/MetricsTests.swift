// Metrics on hand-made maps whose scores are worked out by hand in the comments.
import Evaluation
import MaskFormerInt8
import Testing

@Suite struct MetricsTests {
  /// 1 × 10 strip. Truth: thing A (id 1, cat 0) pixels 0-3, stuff (id 2, cat 1) pixels 4-9.
  /// Prediction: cat 0 on pixels 0-4 (IoU 4/5 = 0.8: TP), cat 1 on 5-9 (IoU 5/6: TP), and a cat 0 segment
  /// of area 0 is not counted. PQ_cat0 = 0.8, PQ_cat1 = 0.8333; PQ = 81.67, SQ = 81.67, RQ = 100.
  @Test func panopticQualityByHand() throws {
    let gt: [Int32] = [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
    let pred = Segmentation(task: .panoptic, width: 10, height: 1, map: [1, 1, 1, 1, 1, 2, 2, 2, 2, 2],
                            segments: [seg(1, 0), seg(2, 1), seg(3, 0)])
    var pq = PanopticQuality(thingIds: [0])
    try pq.add(gtIds: gt, gtSegments: [(1, 0), (2, 1)], prediction: pred)
    let s = pq.scores()
    #expect(abs(s.all.pq - (0.8 + 5.0 / 6) / 2 * 100) < 1e-9)
    #expect(abs(s.things.pq - 80) < 1e-9 && abs(s.stuff.pq - 500.0 / 6) < 1e-9)
    #expect(s.all.rq == 100)
  }

  /// A miss and a false positive: truth cat 0 on 0-4; prediction cat 2 on 0-4 (wrong class: FP for cat 2,
  /// FN for cat 0) -> PQ 0 over 2 categories; void pixels (id 0) under a prediction do not make it an FP.
  @Test func missesFalsePositivesAndVoid() throws {
    var pq = PanopticQuality(thingIds: [0, 2])
    try pq.add(gtIds: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], gtSegments: [(1, 0)],
           prediction: Segmentation(task: .panoptic, width: 10, height: 1, map: [5, 5, 5, 5, 5, 6, 6, 6, 6, 6],
                                    segments: [seg(5, 2), seg(6, 0)]))
    let s = pq.scores()
    #expect(s.all.pq == 0 && s.all.categories == 2)
  }

  /// Confusion: truth [0,0,1,1], prediction [0,1,1,1]: IoU_0 = 1/2, IoU_1 = 2/3, accuracy 3/4; void ignored.
  @Test func semanticScoresByHand() {
    var m = SemanticScores(classes: 3)
    m.add(truth: [0, 0, 1, 1, -1], predicted: [0, 1, 1, 1, 2])
    let s = m.scores()
    #expect(abs(s.mIoU - (0.5 + 2.0 / 3) / 2 * 100) < 1e-9)
    #expect(s.pixelAccuracy == 75)
  }

  /// SQNR of y + 0.1·y is 20 dB; cosine of parallel vectors is 1.
  @Test func tensorDrift() {
    var d = TensorDrift()
    let r: [Float] = [1, -2, 3, 4]
    d.add(r.map { $0 * 1.1 }, reference: r)
    #expect(abs(d.sqnr - 20) < 1e-4 && abs(d.cosine - 1) < 1e-9)
  }

  func seg(_ id: Int, _ label: Int) -> Segment { Segment(id: id, labelId: label, score: 0.9, wasFused: false) }
}
