// SwinPatchEmbeddings: 4×4/4 patch conv + LayerNorm. Mirrors MaskFormerSwinPatchEmbeddings and
// MaskFormerSwinEmbeddings (transformers, modeling_maskformer_swin.py); no absolute position embedding.
import Kernels

public struct SwinPatchEmbeddings {
  /// `projection`: Conv2d(3, C, kernel = stride = patch), with bias.
  public let projection: Conv2d
  /// `embeddings.norm`: LayerNorm(C), eps 1e-5.
  public let norm: LayerNorm

  /// The projection as a Linear over patch vectors (`C × 3·p·p`), made once.
  private let linear: Linear

  public init(projection: Conv2d, norm: LayerNorm) {
    self.projection = projection
    self.norm = norm
    guard let w = projection.weight else { preconditionFailure("patch embedding must be float (its input is the image)") }
    let c = projection.outChannels, k = projection.inChannels * projection.kernelSize * projection.kernelSize
    linear = Linear(name: projection.name, weight: WeightTensor(storage: w.storage, pointer: w.pointer, shape: [c, k], name: w.name),
                    bias: projection.bias)
  }

  /// pixelValues: `[3, H, W]` NCHW → tokens `(ceil(H/p)·ceil(W/p)) × C`. H, W are zero-padded at the
  /// right and bottom to a multiple of the patch first. Streamed in bands of patch rows (at most
  /// `ctx.tokenChunk` tokens): each band's patch vectors, projection and norm exist for that band only.
  /// The image is taken by value and freed on return when handed over.
  func callAsFunction(_ pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, in ctx: InferenceContext) -> FeatureMap {
    let p = projection.kernelSize, cin = projection.inChannels
    precondition(pixelValues.count == cin * height * width, "pixel_values: \(pixelValues.count) floats for \(cin)x\(height)x\(width)")
    let gh = (height + p - 1) / p, gw = (width + p - 1) / p, k = cin * p * p
    let c = projection.outChannels
    let weight = linear
    var out = FeatureMap(height: gh, width: gw, channels: c, in: ctx.arena)
    let bandRows = Swift.max(1, Swift.min(gh, ctx.tokenChunk / gw))
    pixelValues.withUnsafeBufferPointer { pb in
      out.data.withUnsafeMutableBufferPointer { ob in
        let px = pb.baseAddress!
        for first in stride(from: 0, to: gh, by: bandRows) {
          let rows = Swift.min(bandRows, gh - first)
          // Patch vectors in the weight's [in, kh, kw] order: a reshape of the image, not a 3×3 im2col.
          var patches = ctx.zeros(rows * gw * k)
          if !ctx.isDryRun { patches.withUnsafeMutableBufferPointer { patchBuffer in
          let patch = patchBuffer.baseAddress!
          for gy in first..<(first + rows) {
            for gx in 0..<gw {
              let dst = ((gy - first) * gw + gx) * k
              for ch in 0..<cin {
                for ky in 0..<p {
                  let y = gy * p + ky
                  guard y < height else { continue }
                  for kx in 0..<p {
                    let x = gx * p + kx
                    if x < width { patch[dst + (ch * p + ky) * p + kx] = px[(ch * height + y) * width + x] }
                  }
                }
              }
            }
          }
          }}
          let tokens = weight(patches, rows: rows * gw, in: ctx)
          let normed = norm(tokens, rows: rows * gw, in: ctx)
          if !ctx.isDryRun { normed.withUnsafeBufferPointer { (ob.baseAddress! + first * gw * c).update(from: $0.baseAddress!, count: rows * gw * c) } }
        }
      }
    }
    return out
  }
}

extension SwinPatchEmbeddings {
  /// `<encoder>.model.embeddings`: `patch_embeddings.projection` (conv, bias) and `norm`.
  init(_ p: ModulePath, _ s: SwinConfig, from source: any TensorSource) throws {
    self.init(projection: try source.conv(p.child("patch_embeddings.projection"), out: s.embedDim, in: 3, kernel: s.patchSize, bias: true),
              norm: try source.layerNorm(p.child("norm"), s.embedDim))
  }
}
