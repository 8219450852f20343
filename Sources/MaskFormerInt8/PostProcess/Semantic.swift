// Semantic segmentation: `post_process_semantic_segmentation` (transformers): class-weighted mask
// probabilities summed over queries, resized bilinearly to the target size, argmax over classes.
// Streams output rows: memory is two K × w rows at mask resolution plus one output row.

extension Segmentation {
  /// `S[k] = Σ_q softmax(class)[q][k]·sigmoid(mask[q])` for k < K ("no object" dropped after the softmax),
  /// bilinear to `target` (or left at h × w when nil), then `map = argmax_k S` (lowest k on ties).
  /// Segments: one per class present, ascending, as the pipeline lists them (score nil).
  public static func semantic(_ m: MaskLogits, target: (height: Int, width: Int)? = nil) -> Segmentation {
    let k = m.classes - 1, hw = m.height * m.width, w = m.width
    let probs = m.classProbabilities()
    let (oh, ow) = target ?? (m.height, m.width)
    var map = [Int32](repeating: 0, count: oh * ow)
    let resample = BilinearRows(h: m.height, w: m.width, outH: oh, outW: ow)
    // Row r of S = Pᵀ·sigmoid(masks) (K planes), accumulated over queries in order.
    var cache = MaskRowCache(planes: k, w: w)
    var sig = [Float](repeating: 0, count: w)
    func scoreRow(_ r: Int, _ s: UnsafeMutablePointer<Float>) {
      s.update(repeating: 0, count: k * w)
      for q in 0..<m.queries {
        for x in 0..<w { sig[x] = sigmoid(m.maskLogits[q * hw + r * w + x]) }
        for c in 0..<k {
          let wq = probs[q * m.classes + c], sc = s + c * w
          for x in 0..<w { sc[x] += wq * sig[x] }
        }
      }
    }
    var best = [Float](repeating: 0, count: ow), row = [Float](repeating: 0, count: ow)
    for y in 0..<oh {
      cache.rows(y, of: resample, compute: scoreRow) { r0, r1 in
        for c in 0..<k {
          row.withUnsafeMutableBufferPointer { resample.row(y, r0: r0 + c * w, r1: r1 + c * w, into: $0.baseAddress!) }
          for x in 0..<ow where c == 0 || row[x] > best[x] {
            best[x] = row[x]
            map[y * ow + x] = Int32(c)
          }
        }
      }
    }
    var present = [Bool](repeating: false, count: k)
    for v in map { present[Int(v)] = true }
    var out = Segmentation(task: .semantic, width: ow, height: oh, map: map,
                           segments: (0..<k).filter { present[$0] }.map { Segment(id: $0, labelId: $0, score: nil, wasFused: false) })
    out.measureSegments()
    return out
  }
}
