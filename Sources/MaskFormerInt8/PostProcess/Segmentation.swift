// Segmentation results and the shared pieces of post-processing (transformers,
// image_processing_pil_maskformer.py): softmax over classes, sigmoid, and torch's bilinear and nearest
// resizing, evaluated row by row so that no Q × H × W tensor at the original size ever exists.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One segment as transformers' `segments_info` entry, plus its area and bounding box on the map.
public struct Segment: Sendable, Equatable {
  public var id: Int
  public var labelId: Int
  /// `round(score, 6)` as Python rounds a float32 score; nil for semantic segments.
  public var score: Double?
  public var wasFused: Bool
  /// Pixels of the map equal to `id` (0 when later segments overwrote all of it).
  public var area: Int = 0
  /// (x, y, width, height) of those pixels; zeros when the area is 0.
  public var box: (x: Int, y: Int, width: Int, height: Int) = (0, 0, 0, 0)

  public init(id: Int, labelId: Int, score: Double?, wasFused: Bool) {
    self.id = id
    self.labelId = labelId
    self.score = score
    self.wasFused = wasFused
  }

  public static func == (a: Segment, b: Segment) -> Bool {
    a.id == b.id && a.labelId == b.labelId && a.score == b.score && a.wasFused == b.wasFused && a.area == b.area
      && a.box == b.box
  }
}

/// A segmentation of an image: `map[y·width + x]` is a segment id (panoptic: 0 = none; instance:
/// −1 = none) or, for semantic segmentation, a class id.
public struct Segmentation: Sendable, Equatable {
  public enum Task: String, Sendable, CaseIterable { case panoptic, instance, semantic }
  public var task: Task
  public var width: Int
  public var height: Int
  public var map: [Int32]
  public var segments: [Segment]

  public init(task: Task, width: Int, height: Int, map: [Int32], segments: [Segment]) {
    self.task = task
    self.width = width
    self.height = height
    self.map = map
    self.segments = segments
  }

  /// The task's post-processing with these options (instance: the scores' threshold only), at `target`.
  /// `buffers`: the arrays to work in (a session's, reused image after image).
  public static func postprocess(_ m: MaskLogits, options o: SegmentationOptions, target: (height: Int, width: Int),
                                 reusing buffers: PostprocessBuffers = PostprocessBuffers()) -> Segmentation {
    switch o.task {
    case .semantic: .semantic(m, target: target, reusing: buffers)
    case .instance: .instance(m, threshold: o.threshold, target: target, reusing: buffers)
    case .panoptic:
      .panoptic(m, threshold: o.threshold, maskThreshold: o.maskThreshold, overlapMaskAreaThreshold: o.overlapMaskAreaThreshold,
                labelIdsToFuse: o.labelIdsToFuse, target: target, reusing: buffers)
    }
  }

  /// Fills each segment's area and bounding box from the map.
  mutating func measureSegments() {
    PostprocessBuffers().measureSegments(&segments, map: map, width: width, height: height)
  }
}

/// The arrays post-processing works in, reused from image to image (a session keeps one): each keeps its
/// capacity, so a steady state makes no heap allocation (issue 19). A result shares the map and segment
/// arrays copy-on-write: a caller that keeps a result makes the next image's writes copy, never change it.
public final class PostprocessBuffers: @unchecked Sendable {   // used by one post-processing at a time
  var probs: [Float] = []
  var kept: [(query: Int, score: Float, label: Int)] = []
  var area: [Int] = [], original: [Int] = [], idOf: [Int32] = []
  var best: [Float] = [], row: [Float] = []
  var stuff: [Int: Int] = [:]
  var map: [Int32] = []
  var segments: [Segment] = []
  var sigT: [Float] = [], present: [Bool] = []
  var pairs: [TorchTopK.Elem] = [], ys: [Int] = [], xs: [Int] = [], plane: [Float] = []
  /// A `MaskRowCache`'s storage between images.
  var rowSlots: [Float] = []
  private var scratchBase: UnsafeMutableRawPointer?, scratchBytes = 0
  private var firstOfId: [Int] = []
  private var boxes: [(minX: Int, minY: Int, maxX: Int, maxY: Int, area: Int)] = []
  private var resample: (key: (Int, Int, Int, Int), rows: BilinearRows)?

  public init() {}

  deinit { scratchBase?.deallocate() }

  /// At least `bytes` bytes, 64-byte aligned (an F32 GEMM's scratch), kept for the next call.
  func scratch(bytes: Int) -> UnsafeMutableRawPointer {
    if let scratchBase, scratchBytes >= bytes { return scratchBase }
    scratchBase?.deallocate()
    scratchBytes = Swift.max(bytes, 64)
    let p = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
    scratchBase = p
    return p
  }

  /// The bilinear resize `h × w → outH × outW` (the last one made is kept).
  func bilinear(h: Int, w: Int, outH: Int, outW: Int) -> BilinearRows {
    if let r = resample, r.key == (h, w, outH, outW) { return r.rows }
    let rows = BilinearRows(h: h, w: w, outH: outH, outW: outW)
    resample = ((h, w, outH, outW), rows)
    return rows
  }


  /// Fills each segment's area and bounding box from the map. Segment ids are small (panoptic 1..., instance
  /// 0..., semantic the class): the first segment of each id is found through a table by id, and the pixel
  /// loop works on local arrays (a class's stored arrays are checked for exclusive access at every use).
  func measureSegments(_ segments: inout [Segment], map: [Int32], width: Int, height: Int) {
    var maxId = -1
    for s in segments { maxId = Swift.max(maxId, s.id) }
    var first = firstOfId.takeAll(), boxes = self.boxes.takeAll()
    defer { (firstOfId, self.boxes) = (first, boxes) }
    first.reuse(count: maxId + 1, repeating: -1)
    for (i, s) in segments.enumerated() where s.id >= 0 && first[s.id] < 0 { first[s.id] = i }
    boxes.reuse(count: segments.count, repeating: (Int.max, Int.max, -1, -1, 0))
    map.withUnsafeBufferPointer { map in first.withUnsafeBufferPointer { first in boxes.withUnsafeMutableBufferPointer { boxes in
      for y in 0..<height {
        for x in 0..<width {
          let v = Int(map[y * width + x])
          guard v >= 0 && v <= maxId else { continue }
          let i = first[v]
          guard i >= 0 else { continue }
          boxes[i].area += 1
          boxes[i].minX = Swift.min(boxes[i].minX, x); boxes[i].maxX = Swift.max(boxes[i].maxX, x)
          boxes[i].minY = Swift.min(boxes[i].minY, y); boxes[i].maxY = Swift.max(boxes[i].maxY, y)
        }
      }
    }}}
    for i in segments.indices {
      let b = boxes[first[segments[i].id]]   // fused duplicates share the first entry's figures
      segments[i].area = b.area
      segments[i].box = b.area > 0 ? (b.minX, b.minY, b.maxX - b.minX + 1, b.maxY - b.minY + 1) : (0, 0, 0, 0)
    }
  }

}

/// Model outputs for one image, as post-processing reads them.
public struct MaskLogits: Sendable {
  /// `[Q, K+1]`.
  public var classLogits: ArenaArray<Float>
  /// `[Q, h, w]`.
  public var maskLogits: ArenaArray<Float>
  public var queries: Int
  public var classes: Int   // K + 1
  public var height: Int
  public var width: Int
  /// The size post-processing reads the mask planes at: nil, their own; else their bilinear resize to it
  /// (torch's `interpolate(mode="bilinear", align_corners=False)`), computed row by row as read, never whole.
  /// Mask2Former's post-processing works at a fixed 384 × 384 (mask2former-spec.md §6).
  public var postprocessSize: (height: Int, width: Int)?

  public init(classLogits: ArenaArray<Float>, maskLogits: ArenaArray<Float>, queries: Int, classes: Int, height: Int, width: Int) {
    precondition(classLogits.count == queries * classes && maskLogits.count == queries * height * width,
                 "MaskLogits: \(classLogits.count) class and \(maskLogits.count) mask values for Q=\(queries) K+1=\(classes) \(height)x\(width)")
    self.classLogits = classLogits
    self.maskLogits = maskLogits
    self.queries = queries
    self.classes = classes
    self.height = height
    self.width = width
  }

  /// Copies of the arrays on the heap.
  public init(classLogits: [Float], maskLogits: [Float], queries: Int, classes: Int, height: Int, width: Int) {
    self.init(classLogits: ArenaArray(classLogits), maskLogits: ArenaArray(maskLogits), queries: queries, classes: classes,
              height: height, width: width)
  }

  public init(_ o: MaskFormerOutput) {
    self.init(classLogits: o.classLogits, maskLogits: o.maskLogits, queries: o.numQueries, classes: o.numClasses,
              height: o.maskHeight, width: o.maskWidth)
  }

  /// softmax over the K+1 classes of each query, in float32 (max-subtracted, as torch).
  func classProbabilities() -> [Float] {
    var p: [Float] = []
    classProbabilities(into: &p)
    return p
  }

  /// The same into `p` (its storage reused when it has the capacity).
  func classProbabilities(into p: inout [Float]) {
    p.removeAll(keepingCapacity: true)
    classLogits.withUnsafeBufferPointer { p.append(contentsOf: $0) }
    for q in 0..<queries {
      let row = q * classes
      var m = -Float.infinity
      for k in 0..<classes { m = max(m, p[row + k]) }
      var s: Float = 0
      for k in 0..<classes {
        p[row + k] = expf(p[row + k] - m)
        s += p[row + k]
      }
      for k in 0..<classes { p[row + k] /= s }
    }
  }
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// Python's `round(x, 6)` of a float32 value promoted to double: correctly rounded, half to even. Exact in
/// double arithmetic: a float32's 24-bit significand times 10^6 (= 2^6 · 15625, 14 bits) fits in 53 bits, so
/// the product is the exact decimal value scaled, its half-even rounding is Python's, and the division by
/// 10^6 is correctly rounded as Python's conversion of the 6-decimal string is (no formatting: no allocation).
public func roundScore(_ x: Float) -> Double {
  (Double(x) * 1e6).rounded(.toNearestOrEven) / 1e6
}

/// The mask planes of `MaskLogits` as post-processing reads them: at `postprocessSize` when it is set (each row
/// resampled from the two source rows it reads), else as they are.
struct MaskPlaneReader {
  let logits: MaskLogits
  let height: Int, width: Int
  private let resample: BilinearRows?

  init(_ m: MaskLogits) {
    logits = m
    let (h, w) = m.postprocessSize ?? (m.height, m.width)
    (height, width) = (h, w)
    resample = (h, w) == (m.height, m.width) ? nil : BilinearRows(h: m.height, w: m.width, outH: h, outW: w)
  }

  /// Row y of query q's plane (`width` floats).
  func row(_ q: Int, _ y: Int, into out: UnsafeMutablePointer<Float>) {
    logits.maskLogits.withUnsafeBufferPointer { ml in
      let plane = ml.baseAddress! + q * logits.height * logits.width
      if let resample { resample.row(y, of: plane, into: out) } else { out.update(from: plane + y * width, count: width) }
    }
  }

  /// Query q's whole plane (`height × width` floats).
  func plane(_ q: Int, into out: UnsafeMutablePointer<Float>) {
    for y in 0..<height { row(q, y, into: out + y * width) }
  }
}

/// torch `interpolate(mode="bilinear", align_corners=False)` along one axis: per output index the two
/// source indices and weights (UpSampleKernel.cpp, `compute_source_index_and_lambda`).
struct LinearAxis {
  var i0: [Int], i1: [Int], l0: [Float], l1: [Float]

  init(inSize: Int, outSize: Int) {
    // Sized once (appending grew each array ~10 times: ~70 allocations per panoptic frame, issue 19).
    i0 = [Int](repeating: 0, count: outSize); i1 = i0
    l0 = [Float](repeating: 1, count: outSize); l1 = [Float](repeating: 0, count: outSize)
    let scale = Float(inSize) / Float(outSize)
    for o in 0..<outSize {
      if inSize == outSize {
        i0[o] = o; i1[o] = o
        continue
      }
      let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
      let a = min(Int(src.rounded(.down)), inSize - 1)
      let lambda = min(max(src - Float(a), 0), 1)
      i0[o] = a
      i1[o] = a + (a < inSize - 1 ? 1 : 0)
      l1[o] = lambda
      l0[o] = 1 - lambda
    }
  }
}

extension LinearAxis {
  /// The source indices this axis reads, ascending.
  var sources: [Int] { Array(Set(i0 + i1)).sorted() }

  /// The same resampling from the sub-axis of `sources` only (index k of the sub-axis is `sources[k]`).
  func reading(_ sources: [Int]) -> LinearAxis {
    var position = [Int: Int]()
    for (k, i) in sources.enumerated() { position[i] = k }
    var r = self
    r.i0 = i0.map { position[$0]! }
    r.i1 = i1.map { position[$0]! }
    return r
  }
}

/// Bilinear resampling of `h × w` planes to `outH × outW`, one output row at a time.
struct BilinearRows {
  let ys: LinearAxis, xs: LinearAxis
  let w: Int

  init(h: Int, w: Int, outH: Int, outW: Int) {
    self.init(ys: LinearAxis(inSize: h, outSize: outH), xs: LinearAxis(inSize: w, outSize: outW), w: w)
  }

  init(ys: LinearAxis, xs: LinearAxis, w: Int) {
    self.ys = ys
    self.xs = xs
    self.w = w
  }

  /// Row `y` of the resampled `plane` into `out` (outW floats): `(x00·λx0 + x01·λx1)·λy0 + (x10·λx0 + x11·λx1)·λy1`.
  func row(_ y: Int, of plane: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    row(y, r0: plane + ys.i0[y] * w, r1: plane + ys.i1[y] * w, into: out)
  }

  /// The same from the plane's source rows `ys.i0[y]` (r0) and `ys.i1[y]` (r1).
  func row(_ y: Int, r0: UnsafePointer<Float>, r1: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    let ly0 = ys.l0[y], ly1 = ys.l1[y]
    for x in 0..<xs.i0.count {
      let a = xs.i0[x], b = xs.i1[x], lx0 = xs.l0[x], lx1 = xs.l1[x]
      let t0 = r0[a] * lx0 + r0[b] * lx1
      let t1 = r1[a] * lx0 + r1[b] * lx1
      out[x] = t0 * ly0 + t1 * ly1
    }
  }
}

/// Rows of `planes` derived planes at mask resolution, computed on demand, for the bilinear resize
/// of output rows in increasing order: it keeps the two source rows an output row reads, so each row
/// is computed once and the full `planes × h × w` stack never exists. Row `r` holds plane `p` at
/// `p·w`; `compute(r, into)` fills all planes of mask row r.
struct MaskRowCache {
  let planes: Int, w: Int
  private var index = (-1, -1)
  /// The two slots, `planes × w` floats each, one after the other (`storage`: an array to reuse).
  private(set) var storage: [Float]

  init(planes: Int, w: Int, storage: [Float] = []) {
    self.planes = planes
    self.w = w
    self.storage = storage
    self.storage.reuse(count: 2 * planes * w, repeating: 0)
  }

  /// Source rows `ys.i0[y]` and `ys.i1[y]` of output row y, each as planes × w floats.
  mutating func rows(_ y: Int, of resample: BilinearRows, compute: (Int, UnsafeMutablePointer<Float>) -> Void,
                     _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
    let a = resample.ys.i0[y], b = resample.ys.i1[y]
    let sa = slot(a, keep: b, compute), sb = slot(b, keep: a, compute), n = planes * w
    storage.withUnsafeBufferPointer { body($0.baseAddress! + sa * n, $0.baseAddress! + sb * n) }
  }

  private mutating func slot(_ r: Int, keep other: Int, _ compute: (Int, UnsafeMutablePointer<Float>) -> Void) -> Int {
    if index.0 == r { return 0 }
    if index.1 == r { return 1 }
    let s = index.0 == other ? 1 : 0
    if s == 0 { index.0 = r } else { index.1 = r }
    let n = planes * w
    storage.withUnsafeMutableBufferPointer { compute(r, $0.baseAddress! + s * n) }
    return s
  }
}

/// torch legacy `"nearest"`: `src = min(floor(dst·Float(in/out)), in−1)`.
func nearestIndex(_ dst: Int, inSize: Int, outSize: Int) -> Int {
  let scale = Float(inSize) / Float(outSize)
  return min(Int((Float(dst) * scale).rounded(.down)), inSize - 1)
}

extension Array {
  /// `count` copies of `value`, in this array's own storage when it is unique and large enough (arrays reused
  /// image after image: no heap allocation in a steady state).
  mutating func reuse(count: Int, repeating value: Element) {
    removeAll(keepingCapacity: true)
    append(contentsOf: repeatElement(value, count: count))
  }

  /// The elements moved out (this array left empty): a hot loop then works on a local, not on a class's
  /// stored array (whose every access is checked for exclusivity).
  mutating func takeAll() -> [Element] {
    var taken: [Element] = []
    swap(&taken, &self)
    return taken
  }
}
