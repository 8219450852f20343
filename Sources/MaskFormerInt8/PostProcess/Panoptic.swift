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

  /// Defaults are the processor's (0.5 / 0.5 / 0.8); the pipeline passes 0.9 / 0.5 / 0.5. `buffers`: the scratch
  /// and result arrays to reuse (a session's: no heap allocation in a steady state).
  public static func panoptic(_ m: MaskLogits, threshold: Double = 0.5, maskThreshold: Double = 0.5,
                              overlapMaskAreaThreshold: Double = 0.8, labelIdsToFuse: Set<Int> = [],
                              target: (height: Int, width: Int)? = nil, reusing buffers: PostprocessBuffers = PostprocessBuffers()) -> Segmentation {
    let b = buffers
    let planes = MaskPlaneReader(m), numLabels = m.classes - 1, w = planes.width
    m.classProbabilities(into: &b.probs)
    // Score and label of each query: max over all K+1 classes (first index on ties).
    b.kept.removeAll(keepingCapacity: true)
    b.kept.reserveCapacity(m.queries)
    b.probs.withUnsafeBufferPointer { probs in
      for q in 0..<m.queries {
        var best = 0
        for c in 1..<m.classes where probs[q * m.classes + c] > probs[q * m.classes + best] { best = c }
        let score = probs[q * m.classes + best]
        if best != numLabels && Double(score) > threshold { b.kept.append((q, score, best)) }
      }
    }
    let kept = b.kept.count
    let (oh, ow) = target ?? (planes.height, w)
    guard kept > 0 else {
      b.map.reuse(count: oh * ow, repeating: -1)
      b.segments.removeAll(keepingCapacity: true)
      return Segmentation(task: .panoptic, width: ow, height: oh, map: b.map, segments: b.segments)
    }
    // Pass over target rows: owner = argmax_i(score_i · prob_i), and per query the owned area and the
    // "original" area (score-weighted prob >= mask_threshold: transformers tests the weighted value).
    // The kept queries' probabilities are computed per mask row, two rows at a time. The owner map is
    // scratch: it comes from the logits' arena.
    var owner = ownerMap(pixels: oh * ow, in: m.maskLogits.arena)
    b.area.reuse(count: kept, repeating: 0)
    b.original.reuse(count: kept, repeating: 0)
    let resample = b.bilinear(h: planes.height, w: w, outH: oh, outW: ow)
    var cache = MaskRowCache(planes: kept, w: w, storage: b.rowSlots.takeAll())
    func probabilityRow(_ r: Int, _ out: UnsafeMutablePointer<Float>) {
      for i in 0..<kept {
        let dst = out + i * w
        planes.row(b.kept[i].query, r, into: dst)
        for x in 0..<w { dst[x] = sigmoid(dst[x]) }
      }
    }
    b.best.reuse(count: ow, repeating: 0)
    b.row.reuse(count: ow, repeating: 0)
    owner.withUnsafeMutableBufferPointer { owner in
    b.best.withUnsafeMutableBufferPointer { best in b.row.withUnsafeMutableBufferPointer { row in
    b.original.withUnsafeMutableBufferPointer { original in
    for y in 0..<oh {
      cache.rows(y, of: resample, compute: probabilityRow) { r0, r1 in
        for i in 0..<kept {
          resample.row(y, r0: r0 + i * w, r1: r1 + i * w, into: row.baseAddress!)
          let score = b.kept[i].score
          for x in 0..<ow {
            let v = row[x] * score
            if Double(v) >= maskThreshold { original[i] += 1 }
            if i == 0 || v > best[x] {
              best[x] = v
              owner[y * ow + x] = Int32(i)
            }
          }
        }
      }
    }
    }}}
    }
    b.rowSlots = cache.storage
    owner.withUnsafeBufferPointer { owner in b.area.withUnsafeMutableBufferPointer { area in for o in owner { area[Int(o)] += 1 } } }
    // Segment ids in query order; fused labels reuse their first id (and reset the counter to it, as
    // transformers does, so a later new segment can collide with an existing id).
    b.idOf.reuse(count: kept, repeating: 0)
    b.segments.removeAll(keepingCapacity: true)
    b.stuff.removeAll(keepingCapacity: true)
    b.segments.reserveCapacity(m.queries)   // at most one per query: capacity never grows after the first image
    b.stuff.reserveCapacity(m.queries)
    var current = 0
    for i in 0..<kept {
      let k = b.kept[i]
      let fuse = labelIdsToFuse.contains(k.label)
      guard b.area[i] > 0 && b.original[i] > 0 else { continue }
      let ratio = Float(b.area[i]) / Float(b.original[i])
      guard Double(ratio) > overlapMaskAreaThreshold else { continue }
      if let id = b.stuff[k.label] { current = id } else { current += 1 }
      b.idOf[i] = Int32(current)
      b.segments.append(Segment(id: current, labelId: k.label, score: roundScore(k.score), wasFused: fuse))
      if fuse { b.stuff[k.label] = current }
    }
    // Pixels of rejected queries stay 0; accepted queries paint in query order (later ids win, as
    // `segmentation[mask_k] = id` is applied in order, but each pixel has exactly one owner anyway).
    // (An owner's id is 0 exactly when it was rejected.)
    b.map.reuse(count: oh * ow, repeating: 0)
    owner.withUnsafeBufferPointer { owner in b.idOf.withUnsafeBufferPointer { idOf in b.map.withUnsafeMutableBufferPointer { map in
      for p in 0..<(oh * ow) { map[p] = idOf[Int(owner[p])] }
    }}}
    b.measureSegments(&b.segments, map: b.map, width: ow, height: oh)
    return Segmentation(task: .panoptic, width: ow, height: oh, map: b.map, segments: b.segments)
  }
}
