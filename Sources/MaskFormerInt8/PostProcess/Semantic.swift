// Semantic segmentation: `post_process_semantic_segmentation` (transformers): class-weighted mask
// probabilities summed over queries, resized bilinearly to the target size, argmax over classes.
// Streams output rows: memory is two K × w rows at mask resolution, the Q × w sigmoids of one mask row and
// one output row.
import Kernels

extension Segmentation {
  /// `S[k] = Σ_q softmax(class)[q][k]·sigmoid(mask[q])` for k < K ("no object" dropped after the softmax),
  /// bilinear to `target` (or left at h × w when nil), then `map = argmax_k S` (lowest k on ties).
  /// Segments: one per class present, ascending, as the pipeline lists them (score nil).
  /// `buffers`: the arrays to work in (a session's: no heap allocation per image in a steady state).
  public static func semantic(_ m: MaskLogits, target: (height: Int, width: Int)? = nil,
                              reusing buffers: PostprocessBuffers = PostprocessBuffers()) -> Segmentation {
    let b = buffers
    let planes = MaskPlaneReader(m), k = m.classes - 1, w = planes.width
    m.classProbabilities(into: &b.probs)
    let (oh, ow) = target ?? (planes.height, planes.width)
    b.map.reuse(count: oh * ow, repeating: 0)
    let resample = b.bilinear(h: planes.height, w: w, outH: oh, outW: ow)
    // Row r of S = Pᵀ·sigmoid(masks) (K planes, K × w): a GEMM with the mask row's pixels as rows (their Q
    // sigmoids gathered), the class probabilities as the Q × K weight, written transposed (plane by plane).
    // 2 GFLOP for Mask2Former's 100 queries × 150 classes at 384 × 384.
    var cache = MaskRowCache(planes: k, w: w, storage: b.rowSlots.takeAll())
    let kernel = KernelTable.best(for: .detect()).f32GEMM, nq = m.queries
    b.sigT.reuse(count: w * nq, repeating: 0)
    b.row.reuse(count: w, repeating: 0)
    func scoreRow(_ r: Int, _ s: UnsafeMutablePointer<Float>) {
      b.row.withUnsafeMutableBufferPointer { src in b.sigT.withUnsafeMutableBufferPointer { sigT in
        for q in 0..<nq {
          planes.row(q, r, into: src.baseAddress!)
          for x in 0..<w { sigT[x * nq + q] = sigmoid(src[x]) }
        }
      }}
      b.probs.withUnsafeBufferPointer { pb in b.sigT.withUnsafeBufferPointer { sb in
        let a = sb.baseAddress!, v = F32MatrixView(base: pb.baseAddress!, rows: k, cols: nq, rowStride: 1, colStride: m.classes)
        let problem = F32GEMMProblem(m: w, n: k, b: v, a: a, aStride: nq, bias: nil, c: s, ldc: w, transposedOutput: true)
        F32GEMM.run(problem, kernel: kernel, threads: 1, scratch: b.scratch(bytes: F32GEMM.scratchBytes(problem, kernel: kernel, threads: 1)))
      }}
    }
    b.best.reuse(count: ow, repeating: 0)
    b.row.reuse(count: Swift.max(ow, w), repeating: 0)
    b.map.withUnsafeMutableBufferPointer { map in b.best.withUnsafeMutableBufferPointer { best in
    for y in 0..<oh {
      cache.rows(y, of: resample, compute: scoreRow) { r0, r1 in
        b.row.withUnsafeMutableBufferPointer { row in
        for c in 0..<k {
          resample.row(y, r0: r0 + c * w, r1: r1 + c * w, into: row.baseAddress!)
          for x in 0..<ow where c == 0 || row[x] > best[x] {
            best[x] = row[x]
            map[y * ow + x] = Int32(c)
          }
        }
        }
      }
    }
    }}
    b.rowSlots = cache.storage
    b.present.reuse(count: k, repeating: false)
    for v in b.map { b.present[Int(v)] = true }
    b.segments.removeAll(keepingCapacity: true)
    b.segments.reserveCapacity(k)   // at most one per class: capacity never grows after the first image
    for c in 0..<k where b.present[c] { b.segments.append(Segment(id: c, labelId: c, score: nil, wasFused: false)) }
    b.measureSegments(&b.segments, map: b.map, width: ow, height: oh)
    return Segmentation(task: .semantic, width: ow, height: oh, map: b.map, segments: b.segments)
  }
}
