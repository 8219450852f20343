// Instance segmentation: `post_process_instance_segmentation` (transformers): the top-Q (query, class)
// pairs by class probability, masks binarized at low resolution (logit > 0), scored by class
// probability × mean mask probability inside the mask, resized by nearest, later ones overwrite.

extension Segmentation {
  /// Defaults are the processor's (threshold 0.5); the pipeline passes 0.9. `mask_threshold` and
  /// `overlap_mask_area_threshold` are accepted and ignored, as in transformers.
  public static func instance(_ m: MaskLogits, threshold: Double = 0.5, target: (height: Int, width: Int)? = nil,
                              reusing buffers: PostprocessBuffers = PostprocessBuffers()) -> Segmentation {
    let b = buffers
    let planes = MaskPlaneReader(m), k = m.classes - 1, (h, w) = (planes.height, planes.width)
    m.classProbabilities(into: &b.probs)
    // Flattened scores[q·K + c] (no-object column dropped), top Q in torch's topk(sorted=False) order.
    b.pairs.removeAll(keepingCapacity: true)
    for q in 0..<m.queries {
      for c in 0..<k { b.pairs.append((b.probs[q * m.classes + c], q * k + c)) }
    }
    let top = TorchTopK.largest(in: &b.pairs, k: m.queries)
    let (oh, ow) = target ?? (h, w)
    b.map.reuse(count: oh * ow, repeating: -1)
    b.segments.removeAll(keepingCapacity: true)
    b.segments.reserveCapacity(top)   // at most one per query: capacity never grows after the first image
    var nextId = 0
    b.ys.removeAll(keepingCapacity: true)
    for y in 0..<oh { b.ys.append(nearestIndex(y, inSize: h, outSize: oh)) }
    b.xs.removeAll(keepingCapacity: true)
    for x in 0..<ow { b.xs.append(nearestIndex(x, inSize: w, outSize: ow)) }
    // The pixel loops work on locals (a class's stored arrays are checked for exclusive access at every use).
    var plane = b.plane.takeAll(), map = b.map.takeAll()
    let ys = b.ys, xs = b.xs
    plane.reuse(count: h * w, repeating: 0)
    for t in 0..<top {
      let (value, index) = b.pairs[t]
      let q = index / k, label = index % k
      plane.withUnsafeMutableBufferPointer { planes.plane(q, into: $0.baseAddress!) }
      // torch sums the masked probabilities with a cascade (pairwise) sum: near the exact sum, which a float64
      // accumulator gives too (a float32 running sum over 384² values drifts by ~1e-5 relative).
      var inside = 0.0, count = 0
      for v in plane where v > 0 {
        inside += Double(sigmoid(v))
        count += 1
      }
      let score = value * (Float(inside) / (Float(count) + 1e-6))
      // Any pixel of the resized mask set? (A mask can vanish when nearest resizing skips its pixels.)
      var any = false
      for y in ys where !any {
        for x in xs where plane[y * w + x] > 0 {
          any = true
          break
        }
      }
      guard any && Double(score) >= threshold else { continue }
      for (oy, y) in ys.enumerated() {
        for (ox, x) in xs.enumerated() where plane[y * w + x] > 0 {
          map[oy * ow + ox] = Int32(nextId)
        }
      }
      b.segments.append(Segment(id: nextId, labelId: label, score: roundScore(score), wasFused: false))
      nextId += 1
    }
    (b.plane, b.map) = (plane, map)
    b.measureSegments(&b.segments, map: b.map, width: ow, height: oh)
    return Segmentation(task: .instance, width: ow, height: oh, map: b.map, segments: b.segments)
  }
}

/// torch's CPU `topk(largest=True, sorted=False)` (aten/native/cpu/SortingKernel.cpp, `topk_impl_loop`):
/// with k·64 <= n a `std::partial_sort` (descending), else libstdc++'s `std::nth_element`, whose order
/// of the first k elements is reproduced here step by step so that segment order matches transformers.
enum TorchTopK {
  typealias Elem = (value: Float, index: Int)

  /// torch's comparator for largest: NaN first, then greater values.
  @inline(__always) static func before(_ x: Elem, _ y: Elem) -> Bool {
    (x.value.isNaN && !y.value.isNaN) || x.value > y.value
  }

  static func largest(_ input: [Elem], k: Int) -> [Elem] {
    var a = input
    return Array(a.prefix(largest(in: &a, k: k)))
  }

  /// The same in place: the top k are left at the front of `a` (in torch's order); returns how many.
  static func largest(in a: inout [Elem], k: Int) -> Int {
    let n = a.count
    guard k > 0 && n > 0 else { return 0 }
    if k * 64 <= n {
      // partial_sort yields the k best in comparator order; ties keep an unspecified order (rare in float).
      a.sort { before($0, $1) }
      return k
    }
    if k < n { nthElement(&a, nth: k - 1) }
    return Swift.min(k, n)
  }

  /// libstdc++ `std::nth_element` (introselect: median-of-three pivot, unguarded partition, insertion
  /// sort below four elements, heap select when the depth limit is exhausted).
  static func nthElement(_ a: inout [Elem], nth: Int) {
    var first = 0, last = a.count
    guard nth < last else { return }
    var depth = 2 * (Int.bitWidth - 1 - (last - first).leadingZeroBitCount)
    while last - first > 3 {
      if depth == 0 {
        heapSelect(&a, first, nth + 1, last)
        a.swapAt(first, nth)
        return
      }
      depth -= 1
      let cut = partitionPivot(&a, first, last)
      if cut <= nth { first = cut } else { last = cut }
    }
    insertionSort(&a, first, last)
  }

  static func partitionPivot(_ a: inout [Elem], _ first: Int, _ last: Int) -> Int {
    let mid = first + (last - first) / 2
    moveMedianToFirst(&a, first, first + 1, mid, last - 1)
    return unguardedPartition(&a, first + 1, last, pivot: first)
  }

  static func moveMedianToFirst(_ v: inout [Elem], _ result: Int, _ a: Int, _ b: Int, _ c: Int) {
    if before(v[a], v[b]) {
      if before(v[b], v[c]) { v.swapAt(result, b) }
      else if before(v[a], v[c]) { v.swapAt(result, c) }
      else { v.swapAt(result, a) }
    } else if before(v[a], v[c]) { v.swapAt(result, a) }
    else if before(v[b], v[c]) { v.swapAt(result, c) }
    else { v.swapAt(result, b) }
  }

  static func unguardedPartition(_ v: inout [Elem], _ first: Int, _ last: Int, pivot: Int) -> Int {
    var f = first, l = last
    while true {
      while before(v[f], v[pivot]) { f += 1 }
      l -= 1
      while before(v[pivot], v[l]) { l -= 1 }
      if !(f < l) { return f }
      v.swapAt(f, l)
      f += 1
    }
  }

  static func insertionSort(_ v: inout [Elem], _ first: Int, _ last: Int) {
    guard first < last else { return }
    var i = first + 1
    while i < last {
      let val = v[i]
      if before(val, v[first]) {
        var j = i
        while j > first { v[j] = v[j - 1]; j -= 1 }
        v[first] = val
      } else {
        var j = i
        while before(val, v[j - 1]) { v[j] = v[j - 1]; j -= 1 }
        v[j] = val
      }
      i += 1
    }
  }

  /// libstdc++ `__heap_select(first, middle, last)`: make a heap of [first, middle), then push better ones in.
  static func heapSelect(_ v: inout [Elem], _ first: Int, _ middle: Int, _ last: Int) {
    let len = middle - first
    func adjust(_ hole0: Int, _ len: Int, _ value: Elem) {
      // __adjust_heap with __push_heap, on indices relative to first.
      var hole = hole0
      let top = hole0
      var child = hole
      while child < (len - 1) / 2 {
        child = 2 * (child + 1)
        if before(v[first + child], v[first + child - 1]) { child -= 1 }   // comp(*(first+child), *(first+child-1))
        v[first + hole] = v[first + child]
        hole = child
      }
      if len & 1 == 0 && child == (len - 2) / 2 {
        child = 2 * (child + 1)
        v[first + hole] = v[first + child - 1]
        hole = child - 1
      }
      var parent = (hole - 1) / 2
      while hole > top && before(v[first + parent], value) {
        v[first + hole] = v[first + parent]
        hole = parent
        parent = (hole - 1) / 2
      }
      v[first + hole] = value
    }
    if len >= 2 {
      var parent = (len - 2) / 2
      while true {
        adjust(parent, len, v[first + parent])
        if parent == 0 { break }
        parent -= 1
      }
    }
    for i in middle..<last where before(v[i], v[first]) {
      let value = v[i]
      v[i] = v[first]
      adjust(0, len, value)
    }
  }
}
