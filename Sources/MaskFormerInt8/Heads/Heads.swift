// Heads: the class predictor and the mask embedder (MaskformerMLPPredictionHead: Linear-ReLU-Linear-ReLU-
// Linear); the mask einsum `bqc,bchw->bqhw` follows in PixelDecoder.maskLogits (transformers, modeling_maskformer.py).
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

  /// queries `Q × D` → class logits `Q × (K+1)` and mask embeddings `Q × M` (the mask logits are
  /// made with the pixel decoder's last level: `PixelDecoder.maskLogits`).
  func callAsFunction(_ queries: ArenaArray<Float>, in ctx: InferenceContext) -> (classes: ArenaArray<Float>, embeddings: ArenaArray<Float>) {
    let nq = queries.count / classPredictor.inFeatures
    let classes = ctx.linear(queries, rows: nq, classPredictor)
    var e = queries
    for (i, layer) in maskEmbedder.enumerated() {
      e = ctx.linear(e, rows: nq, layer, activation: i + 1 < maskEmbedder.count ? .relu : .identity)
    }
    return (classes, e)
  }
}
