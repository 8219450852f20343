// Segmentation metrics: panoptic quality (COCO PQ = SQ·RQ, Kirillov et al. 2019) and semantic mIoU /
// pixel accuracy against ground truth; and int8-against-float drift (mask-logit SQNR and cosine,
// per-query class agreement, semantic pixel agreement, IoU of matched segments).
import Foundation
import MaskFormerInt8

/// COCO panoptic quality, accumulated over images. A predicted and a ground-truth segment match when
/// they have the same category and IoU > 0.5 (unique by construction); void ground truth (id 0) is
/// excluded from IoU, and an unmatched prediction that is more than half void is not a false positive.
public struct PanopticQuality: Sendable {
  struct Stat { var iou = 0.0, tp = 0, fp = 0, fn = 0 }
  var stats: [Int: Stat] = [:]
  public let thingIds: Set<Int>

  public init(thingIds: Set<Int>) { self.thingIds = thingIds }

  /// gt: segment id per pixel and (id, category); pred: a panoptic segmentation of the same size.
  public mutating func add(gtIds: [Int32], gtSegments: [(id: Int, category: Int)], prediction: Segmentation) {
    precondition(gtIds.count == prediction.map.count, "PanopticQuality: map sizes differ")
    let gcat = Dictionary(gtSegments.map { ($0.id, $0.category) }, uniquingKeysWith: { a, _ in a })
    let pcat = Dictionary(prediction.segments.map { ($0.id, $0.labelId) }, uniquingKeysWith: { a, _ in a })
    var garea: [Int: Int] = [:], parea: [Int: Int] = [:], inter: [Int64: Int] = [:], pvoid: [Int: Int] = [:]
    for (g32, p32) in zip(gtIds, prediction.map) {
      let g = Int(g32), p = Int(p32)
      if g == 0 {                                        // void: count toward the prediction's void share only
        if pcat[p] != nil { pvoid[p, default: 0] += 1 }
        continue
      }
      garea[g, default: 0] += 1
      if pcat[p] != nil { parea[p, default: 0] += 1 }
      inter[Int64(g) << 32 | Int64(p), default: 0] += 1
    }
    var gMatched = Set<Int>(), pMatched = Set<Int>()
    // Keys in order: float sums must not follow a Dictionary's per-instance iteration order.
    for (key, n) in inter.sorted(by: { $0.key < $1.key }) {
      let g = Int(key >> 32), p = Int(key & 0xFFFF_FFFF)
      guard let gc = gcat[g], let pc = pcat[p], gc == pc else { continue }
      let iou = Double(n) / Double(garea[g, default: 0] + parea[p, default: 0] - n)
      if iou > 0.5 {
        stats[gc, default: Stat()].iou += iou
        stats[gc, default: Stat()].tp += 1
        gMatched.insert(g); pMatched.insert(p)
      }
    }
    for (g, c) in gcat where !gMatched.contains(g) && garea[g, default: 0] > 0 { stats[c, default: Stat()].fn += 1 }
    for (p, c) in pcat where !pMatched.contains(p) {
      let total = parea[p, default: 0] + pvoid[p, default: 0]
      if total > 0 && Double(pvoid[p, default: 0]) / Double(total) > 0.5 { continue }
      if total > 0 { stats[c, default: Stat()].fp += 1 }
    }
  }

  public struct Scores: Sendable, Codable, Equatable {
    public var pq, sq, rq: Double
    public var categories: Int
  }

  /// Averages over categories with any ground truth or prediction: all, things only, stuff only (×100).
  public func scores() -> (all: Scores, things: Scores, stuff: Scores) {
    func average(_ keep: (Int) -> Bool) -> Scores {
      var pq = 0.0, sq = 0.0, rq = 0.0, n = 0
      for (c, s) in stats.sorted(by: { $0.key < $1.key }) where keep(c) && s.tp + s.fp + s.fn > 0 {
        let denom = Double(s.tp) + 0.5 * Double(s.fp) + 0.5 * Double(s.fn)
        pq += s.iou / denom
        sq += s.tp > 0 ? s.iou / Double(s.tp) : 0
        rq += Double(s.tp) / denom
        n += 1
      }
      let d = Double(max(n, 1))
      return Scores(pq: 100 * pq / d, sq: 100 * sq / d, rq: 100 * rq / d, categories: n)
    }
    return (average { _ in true }, average { thingIds.contains($0) }, average { !thingIds.contains($0) })
  }
}

/// Semantic segmentation against ground truth: a confusion matrix over the K classes.
public struct SemanticScores: Sendable {
  public let classes: Int
  var confusion: [Int]   // [truth · K + predicted]

  public init(classes: Int) {
    self.classes = classes
    confusion = [Int](repeating: 0, count: classes * classes)
  }

  /// truth: class per pixel (negative = void, ignored); predicted: class per pixel.
  public mutating func add(truth: [Int32], predicted: [Int32]) {
    for (t, p) in zip(truth, predicted) where t >= 0 && Int(t) < classes && p >= 0 && Int(p) < classes {
      confusion[Int(t) * classes + Int(p)] += 1
    }
  }

  /// Mean IoU over classes present in truth or prediction, and pixel accuracy (×100).
  public func scores() -> (mIoU: Double, pixelAccuracy: Double) {
    var iouSum = 0.0, n = 0, correct = 0, total = 0
    for c in 0..<classes {
      let tp = confusion[c * classes + c]
      let truth = (0..<classes).reduce(0) { $0 + confusion[c * classes + $1] }
      let pred = (0..<classes).reduce(0) { $0 + confusion[$1 * classes + c] }
      correct += tp
      total += truth
      guard truth + pred - tp > 0 else { continue }
      iouSum += Double(tp) / Double(truth + pred - tp)
      n += 1
    }
    return (100 * iouSum / Double(max(n, 1)), 100 * Double(correct) / Double(max(total, 1)))
  }
}

/// One tensor against its reference: SQNR (dB), cosine similarity and max abs error, accumulated.
public struct TensorDrift: Sendable, Codable, Equatable {
  public var signal = 0.0, noise = 0.0, dot = 0.0, actual = 0.0
  public var maxAbsError = 0.0
  public var count = 0

  public init() {}

  public mutating func add(_ a: UnsafeBufferPointer<Float>, reference r: UnsafeBufferPointer<Float>) {
    precondition(a.count == r.count, "TensorDrift: \(a.count) values against \(r.count)")
    for i in 0..<a.count {
      let x = Double(a[i]), y = Double(r[i])
      signal += y * y; noise += (x - y) * (x - y); dot += x * y; actual += x * x
      maxAbsError = max(maxAbsError, abs(x - y))
    }
    count += a.count
  }

  public mutating func add(_ a: [Float], reference r: [Float]) {
    a.withUnsafeBufferPointer { ab in r.withUnsafeBufferPointer { rb in add(ab, reference: rb) } }
  }

  public mutating func add(_ a: ArenaArray<Float>, reference r: ArenaArray<Float>) {
    a.withUnsafeBufferPointer { ab in r.withUnsafeBufferPointer { rb in add(ab, reference: rb) } }
  }

  public var sqnr: Double { noise > 0 ? 10 * log10(signal / noise) : .infinity }
  public var cosine: Double { signal > 0 && actual > 0 ? dot / (signal.squareRoot() * actual.squareRoot()) : 1 }
}

/// int8 against float, end to end.
public struct OutputDrift: Sendable {
  public var maskLogits = TensorDrift()
  public var classLogits = TensorDrift()
  var queriesAgreeing = 0, queries = 0
  var pixelsAgreeing = 0, pixels = 0
  var matchedIoU = 0.0, referenceSegments = 0

  public init() {}

  public mutating func add(int8 q: MaskLogits, float f: MaskLogits, int8Semantic qs: Segmentation, floatSemantic fs: Segmentation,
                           int8Panoptic qp: Segmentation, floatPanoptic fp: Segmentation) {
    maskLogits.add(q.maskLogits, reference: f.maskLogits)
    classLogits.add(q.classLogits, reference: f.classLogits)
    let k = f.classes
    for i in 0..<f.queries {
      func argmax(_ l: ArenaArray<Float>) -> Int { (0..<k).max { l[i * k + $0] < l[i * k + $1] }! }
      queriesAgreeing += argmax(q.classLogits) == argmax(f.classLogits) ? 1 : 0
    }
    queries += f.queries
    for (a, b) in zip(qs.map, fs.map) where a == b { pixelsAgreeing += 1 }
    pixels += fs.map.count
    // Each float segment against the int8 segment of the same label with the highest IoU (0 if none).
    var inter: [Int64: Int] = [:], qa: [Int32: Int] = [:], fa: [Int32: Int] = [:]
    for (a, b) in zip(qp.map, fp.map) {
      qa[a, default: 0] += 1; fa[b, default: 0] += 1
      inter[Int64(b) << 32 | Int64(UInt32(bitPattern: a)), default: 0] += 1
    }
    let qLabel = Dictionary(qp.segments.map { (Int32($0.id), $0.labelId) }, uniquingKeysWith: { a, _ in a })
    // In id order: a Dictionary's iteration order differs between instances, and the sum below is float.
    let floatLabel = Dictionary(fp.segments.map { (Int32($0.id), $0.labelId) }, uniquingKeysWith: { a, _ in a })
    for s in floatLabel.sorted(by: { $0.key < $1.key }) {
      guard let fArea = fa[s.key], fArea > 0 else { continue }
      var best = 0.0
      for (id, label) in qLabel where label == s.value {
        let n = inter[Int64(s.key) << 32 | Int64(UInt32(bitPattern: id)), default: 0]
        if n > 0 { best = max(best, Double(n) / Double(fArea + qa[id, default: 0] - n)) }
      }
      matchedIoU += best
      referenceSegments += 1
    }
  }

  public var classAgreement: Double { 100 * Double(queriesAgreeing) / Double(max(queries, 1)) }
  public var pixelAgreement: Double { 100 * Double(pixelsAgreeing) / Double(max(pixels, 1)) }
  public var meanMatchedIoU: Double { referenceSegments > 0 ? matchedIoU / Double(referenceSegments) : 1 }
}
