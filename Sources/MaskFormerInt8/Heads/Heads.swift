// Heads: the class predictor and the mask embedder (MaskformerMLPPredictionHead: Linear-ReLU-Linear-ReLU-
// Linear), then the mask einsum `bqc,bchw->bqhw` (transformers, modeling_maskformer.py).
import Kernels

public struct Heads {
  /// `class_predictor`: D → K + 1.
  public let classPredictor: Linear
  /// `mask_embedder.{0,1,2}.0`: D → D → D → M, ReLU after the first two.
  public let maskEmbedder: [Linear]

  public init(classPredictor: Linear, maskEmbedder: [Linear]) {
    self.classPredictor = classPredictor
    self.maskEmbedder = maskEmbedder
  }

  /// queries `Q × D`, pixel embeddings `h × w × M` → class logits `Q × (K+1)` and mask logits `Q × h·w`.
  func callAsFunction(_ queries: [Float], pixelEmbeddings: FeatureMap, in ctx: InferenceContext) -> (classes: [Float], masks: [Float]) {
    let nq = queries.count / classPredictor.inFeatures
    let classes = ctx.linear(queries, rows: nq, classPredictor)
    var e = queries
    for (i, layer) in maskEmbedder.enumerated() {
      e = ctx.linear(e, rows: nq, layer, activation: i + 1 < maskEmbedder.count ? .relu : .identity)
    }
    // masks[q][p] = Σ_c e[q][c]·pix[p][c]: a GEMM whose "weight" is the pixel-embedding map.
    let m = pixelEmbeddings.channels, pixels = pixelEmbeddings.pixels
    precondition(e.count == nq * m, "mask embedder width \(e.count / nq) != pixel embedding width \(m)")
    var masks = [Float](repeating: 0, count: nq * pixels)
    ctx.profiler?.begin("mask_logits.einsum", kind: "matmul", macs: nq * pixels * m, bytes: 4 * (nq * m + pixels * m + nq * pixels))
    defer { ctx.profiler?.end(shape: [nq, pixelEmbeddings.height, pixelEmbeddings.width]) }
    e.withUnsafeBufferPointer { eb in pixelEmbeddings.data.withUnsafeBufferPointer { pb in
      masks.withUnsafeMutableBufferPointer { mb in
        let ep = eb.baseAddress!
        let p = F32GEMMProblem(
          m: nq, n: pixels, segments: [F32MatrixView(base: pb.baseAddress!, rows: pixels, cols: m, rowStride: m, colStride: 1)],
          aRow: { i, _ in ep + i * m }, bias: nil, c: mb.baseAddress!, ldc: pixels)
        F32GEMM.run(p, kernel: ctx.kernels.f32GEMM, threads: ctx.threads)
      }
    }}
    return (classes, masks)
  }
}
