// Evaluator: runs a float and an int8 model over a panoptic dataset and reports each against ground
// truth (PQ, mIoU, pixel accuracy) and the int8 against the float (OutputDrift).
import Foundation
import MaskFormerInt8

public struct EvaluationOptions: Sendable {
  /// Panoptic post-processing: transformers' MaskFormerImageProcessor with threshold 0.8 (the
  /// training script's evaluation uses the same), stuff classes fused.
  public var threshold = 0.8
  public var maskThreshold = 0.5
  public var overlapMaskAreaThreshold = 0.8
  /// Evaluate at most this many images (nil: all).
  public var limit: Int?

  public init() {}
}

public struct EvaluationReport: Sendable {
  public struct Accuracy: Sendable, Codable {
    public var pq, sq, rq, pqThings, pqStuff, mIoU, pixelAccuracy: Double
  }
  public var images = 0
  /// Per model name ("float32", "int8"), in the order given.
  public var accuracy: [(name: String, scores: Accuracy)] = []
  /// The second model against the first.
  public var drift = OutputDrift()
}

public enum Evaluator {
  /// models[0] is the reference (float); every model is scored against ground truth, and models[1]
  /// (if any) against models[0]. progress(done, total) after each image.
  public static func evaluate(_ models: [(name: String, model: any SegmentationNetwork)], preprocessor: PreprocessorConfig,
                              dataset: PanopticDataset, options: EvaluationOptions = EvaluationOptions(),
                              context: InferenceContext, progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationReport {
    let n = min(dataset.count, options.limit ?? .max)
    let things = Set(dataset.categories.filter { $0.isthing != 0 }.map(\.id))
    let classes = (dataset.categories.map(\.id).max() ?? -1) + 1
    let ids = Set(dataset.categories.map(\.id))
    var pq = models.map { _ in PanopticQuality(thingIds: things, categories: ids) }
    var sem = models.map { _ in SemanticScores(classes: classes) }
    var report = EvaluationReport()
    for i in 0..<n {
      let s = try dataset.sample(i)
      let pv = ImageProcessor.pixelValues(s.image, config: preprocessor)
      let target = (height: s.image.height, width: s.image.width)
      let category = Dictionary(s.segments.map { ($0.id, $0.category_id) }, uniquingKeysWith: { a, _ in a })
      let truth = s.ids.map { category[Int($0)].map(Int32.init) ?? -1 }
      var outputs: [(MaskLogits, Segmentation, Segmentation)] = []
      for (m, entry) in models.enumerated() {
        // Each family's own post-processing (Mask2Former's works at 384 × 384).
        let logits = entry.model.logits(pixelValues: ArenaArray(pv.data), height: pv.height, width: pv.width, in: context)
        var o = SegmentationOptions(task: .panoptic, threshold: options.threshold, maskThreshold: options.maskThreshold,
                                    overlapMaskAreaThreshold: options.overlapMaskAreaThreshold, labelIdsToFuse: dataset.stuffIds)
        let pan = entry.model.postprocess(logits, options: o, target: target)
        o.task = .semantic
        let semantic = entry.model.postprocess(logits, options: o, target: target)
        try pq[m].add(gtIds: s.ids, gtSegments: s.segments.map { GroundTruthSegment(id: $0.id, category: $0.category_id, isCrowd: $0.iscrowd == 1, area: $0.area) },
                      prediction: pan, image: s.name)
        sem[m].add(truth: truth, predicted: semantic.map)
        outputs.append((logits, semantic, pan))
      }
      if outputs.count > 1 {
        report.drift.add(int8: outputs[1].0, float: outputs[0].0, int8Semantic: outputs[1].1, floatSemantic: outputs[0].1,
                         int8Panoptic: outputs[1].2, floatPanoptic: outputs[0].2)
      }
      report.images += 1
      progress(i + 1, n)
    }
    for (m, entry) in models.enumerated() {
      let p = pq[m].scores(), s = sem[m].scores()
      report.accuracy.append((entry.name, .init(pq: p.all.pq, sq: p.all.sq, rq: p.all.rq, pqThings: p.things.pq,
                                                 pqStuff: p.stuff.pq, mIoU: s.mIoU, pixelAccuracy: s.pixelAccuracy)))
    }
    return report
  }
}
