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
    return (classPredictor(queries, rows: nq, in: ctx), embeddings(queries, in: ctx))
  }

  /// The mask embeddings `Q × M` alone (Mask2Former predicts masks after every decoder layer, classes once).
  func embeddings(_ queries: ArenaArray<Float>, in ctx: InferenceContext) -> ArenaArray<Float> {
    let nq = queries.count / classPredictor.inFeatures
    var e = queries
    for (i, layer) in maskEmbedder.enumerated() {
      e = layer(e, rows: nq, activation: i + 1 < maskEmbedder.count ? .relu : .identity, in: ctx)
    }
    return e
  }
}

extension Heads {
  /// `class_predictor` and `mask_embedder.{0,1,2}.0` (top level of the checkpoint).
  init(_ c: MaskFormerConfig, from source: any TensorSource) throws {
    let dm = c.detr.dModel
    let embedder = ModulePath("mask_embedder")
    self.init(classPredictor: try source.linear(ModulePath("class_predictor"), out: c.numLabels + 1, in: dm, bias: true),
              maskEmbedder: [try source.linear(embedder.child(0).child(0), out: dm, in: dm, bias: true),
                             try source.linear(embedder.child(1).child(0), out: dm, in: dm, bias: true),
                             try source.linear(embedder.child(2).child(0), out: c.maskFeatureSize, in: dm, bias: true)])
  }
}
