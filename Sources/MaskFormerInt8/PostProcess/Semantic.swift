// Semantic segmentation: `post_process_semantic_segmentation` (transformers): class-weighted mask
// probabilities summed over queries, resized bilinearly to the target size, argmax over classes.
// Streams output rows: memory is two K × w rows at mask resolution, the Q × w sigmoids of one mask row and
// one output row.
import Kernels

extension Segmentation {
  /// `S[k] = Σ_q softmax(class)[q][k]·sigmoid(mask[q])` for k < K ("no object" dropped after the softmax),
  /// bilinear to `target` (or left at h × w when nil), then `map = argmax_k S` (lowest k on ties).
  /// Segments: one per class present, ascending, as the pipeline lists them (score nil).
  public static func semantic(_ m: MaskLogits, target: (height: Int, width: Int)? = nil) -> Segmentation {
    let planes = MaskPlaneReader(m), k = m.classes - 1, w = planes.width
    let probs = m.classProbabilities()
    let (oh, ow) = target ?? (planes.height, planes.width)
    var map = [Int32](repeating: 0, count: oh * ow)
    let resample = BilinearRows(h: planes.height, w: w, outH: oh, outW: ow)
    // Row r of S = Pᵀ·sigmoid(masks) (K planes, K × w): a GEMM with the mask row's pixels as rows (their Q
    // sigmoids gathered), the class probabilities as the Q × K weight, written transposed (plane by plane).
    // 2 GFLOP for Mask2Former's 100 queries × 150 classes at 384 × 384.
    var cache = MaskRowCache(planes: k, w: w)
    let kernel = KernelTable.best(for: .detect()).f32GEMM, nq = m.queries
    var sigT = [Float](repeating: 0, count: w * nq), sigRow = [Float](repeating: 0, count: w)
    var scratch: UnsafeMutableRawPointer?, scratchBytes = 0
    defer { scratch?.deallocate() }
    func scoreRow(_ r: Int, _ s: UnsafeMutablePointer<Float>) {
      sigRow.withUnsafeMutableBufferPointer { src in
        for q in 0..<nq {
          planes.row(q, r, into: src.baseAddress!)
          for x in 0..<w { sigT[x * nq + q] = sigmoid(src[x]) }
        }
      }
      probs.withUnsafeBufferPointer { pb in sigT.withUnsafeBufferPointer { sb in
        let a = sb.baseAddress!, v = F32MatrixView(base: pb.baseAddress!, rows: k, cols: nq, rowStride: 1, colStride: m.classes)
        let problem = F32GEMMProblem(m: w, n: k, segments: [v], a: a, aStride: nq, bias: nil, c: s, ldc: w, transposedOutput: true)
        let bytes = Swift.max(F32GEMM.scratchBytes(problem, kernel: kernel, threads: 1), 64)
        if bytes > scratchBytes {   // the same size for every row: allocated once
          scratch?.deallocate()
          scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
          scratchBytes = bytes
        }
        F32GEMM.run(problem, kernel: kernel, threads: 1, scratch: scratch!)
      }}
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
