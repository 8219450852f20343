// Semantic segmentation: `post_process_semantic_segmentation` (transformers): class-weighted mask
// probabilities summed over queries, resized bilinearly to the target size, argmax over classes.
// Streams output rows: memory is K·h·w at mask resolution plus one K × W row.

extension Segmentation {
  /// `S[k] = Σ_q softmax(class)[q][k]·sigmoid(mask[q])` for k < K ("no object" dropped after the softmax),
  /// bilinear to `target` (or left at h × w when nil), then `map = argmax_k S` (lowest k on ties).
  /// Segments: one per class present, ascending, as the pipeline lists them (score nil).
  public static func semantic(_ m: MaskLogits, target: (height: Int, width: Int)? = nil) -> Segmentation {
    let k = m.classes - 1, hw = m.height * m.width
    let probs = m.classProbabilities()
    // S = Pᵀ·sigmoid(masks): K × hw, accumulated over queries in order.
    var s = [Float](repeating: 0, count: k * hw)
    var sig = [Float](repeating: 0, count: hw)
    for q in 0..<m.queries {
      for p in 0..<hw { sig[p] = sigmoid(m.maskLogits[q * hw + p]) }
      for c in 0..<k {
        let w = probs[q * m.classes + c]
        for p in 0..<hw { s[c * hw + p] += w * sig[p] }
      }
    }
    let (oh, ow) = target ?? (m.height, m.width)
    var map = [Int32](repeating: 0, count: oh * ow)
    let resample = BilinearRows(h: m.height, w: m.width, outH: oh, outW: ow)
    var best = [Float](repeating: 0, count: ow), row = [Float](repeating: 0, count: ow)
    s.withUnsafeBufferPointer { sb in
      for y in 0..<oh {
        for c in 0..<k {
          row.withUnsafeMutableBufferPointer { resample.row(y, of: sb.baseAddress! + c * hw, into: $0.baseAddress!) }
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
