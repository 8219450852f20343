// Panoptic segmentation: `post_process_panoptic_segmentation` + `compute_segments` (transformers):
// queries kept by class score, their mask probabilities resized bilinearly and weighted by the score,
// each pixel owned by the argmax query, segments kept by the area test, stuff classes optionally fused.
// Streams output rows: no Q × H × W tensor at the target size.

extension Segmentation {
  /// The scratch post-processing takes from the logits' arena (the panoptic owner map; the other
  /// tasks take none): here, so that a dry run (`MemoryPlan`) requests exactly what panoptic does.
  public static func ownerMap(pixels: Int, in arena: Arena?) -> ArenaArray<Int32> {
    ArenaArray(repeating: 0, count: pixels, in: arena)
  }

  /// Defaults are the processor's (0.5 / 0.5 / 0.8); the pipeline passes 0.9 / 0.5 / 0.5.
  public static func panoptic(_ m: MaskLogits, threshold: Double = 0.5, maskThreshold: Double = 0.5,
                              overlapMaskAreaThreshold: Double = 0.8, labelIdsToFuse: Set<Int> = [],
                              target: (height: Int, width: Int)? = nil) -> Segmentation {
    let planes = MaskPlaneReader(m), numLabels = m.classes - 1, w = planes.width
    let probs = m.classProbabilities()
    // Score and label of each query: max over all K+1 classes (first index on ties).
    var kept: [(query: Int, score: Float, label: Int)] = []
    for q in 0..<m.queries {
      var best = 0
      for c in 1..<m.classes where probs[q * m.classes + c] > probs[q * m.classes + best] { best = c }
      let score = probs[q * m.classes + best]
      if best != numLabels && Double(score) > threshold { kept.append((q, score, best)) }
    }
    let (oh, ow) = target ?? (planes.height, w)
    guard !kept.isEmpty else {
      return Segmentation(task: .panoptic, width: ow, height: oh, map: [Int32](repeating: -1, count: oh * ow), segments: [])
    }
    // Pass over target rows: owner = argmax_i(score_i · prob_i), and per query the owned area and the
    // "original" area (score-weighted prob >= mask_threshold: transformers tests the weighted value).
    // The kept queries' probabilities are computed per mask row, two rows at a time. The owner map is
    // scratch: it comes from the logits' arena.
    var owner = ownerMap(pixels: oh * ow, in: m.maskLogits.arena)
    var area = [Int](repeating: 0, count: kept.count), original = [Int](repeating: 0, count: kept.count)
    let resample = BilinearRows(h: planes.height, w: w, outH: oh, outW: ow)
    var cache = MaskRowCache(planes: kept.count, w: w)
    func probabilityRow(_ r: Int, _ out: UnsafeMutablePointer<Float>) {
      for (i, k) in kept.enumerated() {
        let dst = out + i * w
        planes.row(k.query, r, into: dst)
        for x in 0..<w { dst[x] = sigmoid(dst[x]) }
      }
    }
    var best = [Float](repeating: 0, count: ow), row = [Float](repeating: 0, count: ow)
    owner.withUnsafeMutableBufferPointer { owner in
    for y in 0..<oh {
      cache.rows(y, of: resample, compute: probabilityRow) { r0, r1 in
        for (i, k) in kept.enumerated() {
          row.withUnsafeMutableBufferPointer { resample.row(y, r0: r0 + i * w, r1: r1 + i * w, into: $0.baseAddress!) }
          for x in 0..<ow {
            let v = row[x] * k.score
            if Double(v) >= maskThreshold { original[i] += 1 }
            if i == 0 || v > best[x] {
              best[x] = v
              owner[y * ow + x] = Int32(i)
            }
          }
        }
      }
    }
    }
    for o in owner { area[Int(o)] += 1 }
    // Segment ids in query order; fused labels reuse their first id (and reset the counter to it, as
    // transformers does, so a later new segment can collide with an existing id).
    var idOf = [Int32](repeating: 0, count: kept.count)
    var segments: [Segment] = []
    var current = 0
    var stuff: [Int: Int] = [:]
    for (i, k) in kept.enumerated() {
      let fuse = labelIdsToFuse.contains(k.label)
      guard area[i] > 0 && original[i] > 0 else { continue }
      let ratio = Float(area[i]) / Float(original[i])
      guard Double(ratio) > overlapMaskAreaThreshold else { continue }
      if let id = stuff[k.label] { current = id } else { current += 1 }
      idOf[i] = Int32(current)
      segments.append(Segment(id: current, labelId: k.label, score: roundScore(k.score), wasFused: fuse))
      if fuse { stuff[k.label] = current }
    }
    // Pixels of rejected queries stay 0; accepted queries paint in query order (later ids win, as
    // `segmentation[mask_k] = id` is applied in order, but each pixel has exactly one owner anyway).
    var accepted = [Bool](repeating: false, count: kept.count)
    for (i, _) in kept.enumerated() where idOf[i] != 0 { accepted[i] = true }
    var map = [Int32](repeating: 0, count: oh * ow)
    for p in 0..<(oh * ow) {
      let o = Int(owner[p])
      if accepted[o] { map[p] = idOf[o] }
    }
    var out = Segmentation(task: .panoptic, width: ow, height: oh, map: map, segments: segments)
    out.measureSegments()
    return out
  }
}
