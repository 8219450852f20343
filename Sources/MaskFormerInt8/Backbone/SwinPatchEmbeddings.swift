// SwinPatchEmbeddings: 4×4/4 patch conv + LayerNorm. Mirrors MaskFormerSwinPatchEmbeddings and
// MaskFormerSwinEmbeddings (transformers, modeling_maskformer_swin.py); no absolute position embedding.
import Kernels

public struct SwinPatchEmbeddings {
  /// `projection`: Conv2d(3, C, kernel = stride = patch), with bias.
  public let projection: Conv2d
  /// `embeddings.norm`: LayerNorm(C), eps 1e-5.
  public let norm: LayerNorm

  public init(projection: Conv2d, norm: LayerNorm) {
    self.projection = projection
    self.norm = norm
  }

  /// pixelValues: `[3, H, W]` NCHW → tokens `(ceil(H/p)·ceil(W/p)) × C`. H, W are zero-padded at the
  /// right and bottom to a multiple of the patch first.
  func callAsFunction(_ pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> FeatureMap {
    let p = projection.kernelSize, cin = projection.inChannels
    precondition(pixelValues.count == cin * height * width, "pixel_values: \(pixelValues.count) floats for \(cin)x\(height)x\(width)")
    let gh = (height + p - 1) / p, gw = (width + p - 1) / p, k = cin * p * p
    // Patch vectors in the weight's [in, kh, kw] order: a reshape of the image, not a 3×3 im2col.
    var patches = [Float](repeating: 0, count: gh * gw * k)
    for gy in 0..<gh {
      for gx in 0..<gw {
        let dst = (gy * gw + gx) * k
        for c in 0..<cin {
          for ky in 0..<p {
            let y = gy * p + ky
            guard y < height else { continue }
            for kx in 0..<p {
              let x = gx * p + kx
              if x < width { patches[dst + (c * p + ky) * p + kx] = pixelValues[(c * height + y) * width + x] }
            }
          }
        }
      }
    }
    let c = projection.outChannels
    guard let w = projection.weight else { preconditionFailure("patch embedding must be float (its input is the image)") }
    let weight = Linear(weight: WeightTensor(storage: w.storage, pointer: w.pointer, shape: [c, k], name: w.name), bias: projection.bias)
    let tokens = ctx.linear(patches, rows: gh * gw, weight)
    return FeatureMap(height: gh, width: gw, channels: c, data: ctx.layerNorm(tokens, rows: gh * gw, norm))
  }
}
