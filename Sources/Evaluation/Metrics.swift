// Segmentation metrics: panoptic quality (COCO PQ = SQ·RQ, Kirillov et al. 2019) and semantic mIoU /
// pixel accuracy against ground truth; and int8-against-float drift (mask-logit SQNR and cosine,
// per-query class agreement, semantic pixel agreement, IoU of matched segments).
import Foundation
import MaskFormerInt8

/// A ground-truth segment of a COCO-panoptic annotation.
public struct GroundTruthSegment: Sendable, Equatable {
  public var id: Int
  public var category: Int
  /// A crowd region (`iscrowd = 1`): never matched, never a false negative; it excuses predictions of its
  /// category that lie mostly on it.
  public var isCrowd: Bool
  /// The annotation's `area` (panopticapi's IoU union uses it); nil: the segment's pixel count.
  public var area: Int?

  public init(id: Int, category: Int, isCrowd: Bool = false, area: Int? = nil) {
    self.id = id
    self.category = category
    self.isCrowd = isCrowd
    self.area = area
  }
}

public struct PanopticQualityError: Error, CustomStringConvertible, Equatable {
  public var description: String
}

/// COCO panoptic quality, accumulated over images, by the rules of panopticapi's `pq_compute`
/// (cocodataset/panopticapi, evaluation.py): a predicted and a ground-truth segment match when they have
/// the same category and IoU > 0.5, the union leaving out the prediction's void pixels (ground-truth id
/// 0); crowd regions are never matched and never false negatives; an unmatched prediction is not a false
/// positive when more than half of it lies on void or on its category's crowd region (the last crowd
/// segment of that category in the annotation, as panopticapi's dictionary keeps it); a ground-truth
/// segment listed without pixels is a false negative. Categories outside the dataset's are refused.
public struct PanopticQuality: Sendable {
  struct Stat { var iou = 0.0, tp = 0, fp = 0, fn = 0 }
  var stats: [Int: Stat] = [:]
  public let thingIds: Set<Int>
  /// The dataset's category ids (nil: any category is accepted).
  public let categories: Set<Int>?

  public init(thingIds: Set<Int>, categories: Set<Int>? = nil) {
    self.thingIds = thingIds
    self.categories = categories
  }

  /// gt: segment id per pixel (0 = void) and the annotation's segments; pred: a panoptic segmentation of
  /// the same size (pixels of ids without a segment are void). `image` names the image in errors.
  public mutating func add(gtIds: [Int32], gtSegments: [GroundTruthSegment], prediction: Segmentation,
                           image: String = "") throws(PanopticQualityError) {
    precondition(gtIds.count == prediction.map.count, "PanopticQuality: map sizes differ")
    let place = image.isEmpty ? "" : "\(image): "
    if let categories {
      for g in gtSegments where !categories.contains(g.category) {
        throw PanopticQualityError(description: "\(place)ground-truth segment \(g.id) has category \(g.category), not one of the dataset's \(categories.sorted())")
      }
    }
    var gcat: [Int: GroundTruthSegment] = [:]
    for g in gtSegments where gcat[g.id] == nil { gcat[g.id] = g }
    var pcat: [Int: Int] = [:]
    for seg in prediction.segments where pcat[seg.id] == nil && seg.id != 0 { pcat[seg.id] = seg.labelId }
    // Pixel counts: intersections (ground truth x prediction, void included), each id's area.
    var inter: [Int64: Int] = [:], garea: [Int: Int] = [:], parea: [Int: Int] = [:]
    for (g32, p32) in zip(gtIds, prediction.map) {
      let g = Int(g32), p = pcat[Int(p32)] != nil ? Int(p32) : 0
      garea[g, default: 0] += 1
      if p != 0 { parea[p, default: 0] += 1 }
      inter[Int64(g) << 32 | Int64(p), default: 0] += 1
    }
    pcat = pcat.filter { parea[$0.key, default: 0] > 0 }   // a segment without pixels is not in the prediction
    if let categories {
      for (p, c) in pcat.sorted(by: { $0.key < $1.key }) where !categories.contains(c) {
        throw PanopticQualityError(description: "\(place)predicted segment \(p) has category \(c), not one of the dataset's \(categories.sorted())")
      }
    }
    func pair(_ g: Int, _ p: Int) -> Int { inter[Int64(g) << 32 | Int64(p), default: 0] }
    var gMatched = Set<Int>(), pMatched = Set<Int>()
    // Keys in order: float sums must not follow a Dictionary's per-instance iteration order.
    for (key, n) in inter.sorted(by: { $0.key < $1.key }) {
      let g = Int(key >> 32), p = Int(key & 0xFFFF_FFFF)
      guard let gs = gcat[g], !gs.isCrowd, let pc = pcat[p], gs.category == pc else { continue }
      let union = parea[p, default: 0] + (gs.area ?? garea[g, default: 0]) - n - pair(0, p)
      let iou = Double(n) / Double(union)
      if iou > 0.5 {
        stats[pc, default: Stat()].iou += iou
        stats[pc, default: Stat()].tp += 1
        gMatched.insert(g); pMatched.insert(p)
      }
    }
    var crowdOf: [Int: Int] = [:]
    var listed = Set<Int>()
    for g in gtSegments where listed.insert(g.id).inserted && !gMatched.contains(g.id) {
      if g.isCrowd { crowdOf[g.category] = g.id; continue }
      stats[g.category, default: Stat()].fn += 1
    }
    for (p, c) in pcat.sorted(by: { $0.key < $1.key }) where !pMatched.contains(p) {
      var excused = pair(0, p)
      if let crowd = crowdOf[c] { excused += pair(crowd, p) }
      if Double(excused) / Double(parea[p]!) > 0.5 { continue }
      stats[c, default: Stat()].fp += 1
    }
  }

  /// `add` with plain (id, category) ground truth: no crowd regions, areas from the pixels.
  public mutating func add(gtIds: [Int32], gtSegments: [(id: Int, category: Int)], prediction: Segmentation) throws(PanopticQualityError) {
    try add(gtIds: gtIds, gtSegments: gtSegments.map { GroundTruthSegment(id: $0.id, category: $0.category) }, prediction: prediction)
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
