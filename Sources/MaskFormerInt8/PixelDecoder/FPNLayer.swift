// FPN layers of the pixel decoder. Mirrors MaskFormerFPNConvLayer (conv3×3 no bias → GroupNorm(32) → ReLU)
// and MaskFormerFPNLayer (lateral conv1×1 no bias → GroupNorm, NO ReLU; nearest-upsampled top-down path
// added; then a conv layer) from transformers, modeling_maskformer.py.
import Kernels
import Quant

public struct FPNConvLayer {
  public let conv: Conv2d
  public let norm: GroupNorm

  public init(conv: Conv2d, norm: GroupNorm) {
    self.conv = conv
    self.norm = norm
  }

  func callAsFunction(_ x: consuming FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    var y = conv(consume x, in: ctx)
    norm(&y, relu: true, in: ctx)
    return y
  }

  /// On an input already quantized for the int8 conv (the FPN merge's hand-over).
  func callAsFunction(quantized a: consuming QuantizedMap, in ctx: InferenceContext) -> FeatureMap {
    var y = conv(StageFeature.quantized(a), in: ctx)
    norm(&y, relu: true, in: ctx)
    return y
  }
}

public struct FPNLayer {
  /// `proj.0` (1×1 conv) and `proj.1` (GroupNorm).
  public let projection: Conv2d
  public let projectionNorm: GroupNorm
  public let block: FPNConvLayer

  public init(projection: Conv2d, projectionNorm: GroupNorm, block: FPNConvLayer) {
    self.projection = projection
    self.projectionNorm = projectionNorm
    self.block = block
  }

  /// down: the coarser FPN map; left: the backbone feature at this stride. Both are handed over:
  /// the sum is built in the lateral map's buffer and each input dies at its last use.
  func callAsFunction(down: consuming FeatureMap, left: consuming StageFeature, in ctx: InferenceContext) -> FeatureMap {
    if handsOverInt8(ctx) { return block(quantized: mergedQuantized(down: consume down, left: consume left, in: ctx), in: ctx) }
    var merged = projection(consume left, in: ctx)
    projectionNorm(&merged, relu: false, in: ctx)
    let info = ctx.info(OpInfo(name: projection.name.key("merge"), kind: "resize+add", bytes: 12 * merged.data.count))
    ctx.observer?.begin(info!, input: nil)
    addNearest(down, into: &merged, threads: ctx.threads)
    _ = consume down
    ctx.observer?.end(info!, map: merged)
    return block(consume merged, in: ctx)
  }
}

/// `x += nearest(down)` resized to the map's size (torch's legacy `"nearest"`: `src = min(floor(dst·Float(in/out)), in−1)`
/// per axis), without materializing the resized map. x holds rows `firstRow ..< firstRow + x.height` of a map
/// `mapHeight` rows tall (nil: x is the whole map).
/// Rows in parallel on `threads` (each output row is written by one worker).
func addNearest(_ down: borrowing FeatureMap, into x: inout FeatureMap, firstRow: Int = 0, mapHeight: Int? = nil, threads: Int = 1) {
  precondition(down.channels == x.channels, "addNearest: \(down.channels) vs \(x.channels) channels")
  let (height, width, c) = (x.height, x.width, x.channels), mapHeight = mapHeight ?? x.height
  guard !x.data.isDryRun else { return }
  let srcX = (0..<width).map { nearestIndex($0, inSize: down.width, outSize: width) }
  down.data.withUnsafeBufferPointer { db in
    x.data.withUnsafeMutableBufferPointer { xb in
      let dp = db.baseAddress!, xp = xb.baseAddress!
      srcX.withUnsafeBufferPointer { sx in
      parallelFor(height, threads: threads, sharing: (dp, xp, sx.baseAddress!, firstRow, down.height, down.width, mapHeight, width, c)) { s, y in
        let (dp, xp, srcX, firstRow, downHeight, downWidth, mapHeight, width, c) = s
        let sy = nearestIndex(firstRow + y, inSize: downHeight, outSize: mapHeight)
        for xx in 0..<width {
          let src = dp + (sy * downWidth + srcX[xx]) * c, dst = xp + (y * width + xx) * c
          for ch in 0..<c { dst[ch] += src[ch] }
        }
      }
      }
    }
  }
}

extension FPNLayer {
  /// Whether the int8 hand-overs run: an int8 block conv and no observer reading values (which would see the
  /// float maps that the hand-overs never write; with one, the same values are computed op by op).
  func handsOverInt8(_ ctx: InferenceContext) -> Bool { !ctx.observesValues && block.conv.quantized != nil }

  /// The lateral conv, its GroupNorm and the top-down add quantized in one pass for the block's int8 conv
  /// (`GroupNorm.quantized`). Only where `handsOverInt8`. Each input dies at its last use, as in the float form.
  func mergedQuantized(down: consuming FeatureMap, left: consuming StageFeature, in ctx: InferenceContext) -> QuantizedMap {
    guard let q = block.conv.quantized else { preconditionFailure("\(block.conv.name): the int8 hand-over needs an int8 conv") }
    let merged = projection(consume left, in: ctx)
    let affine = projectionNorm.affine(of: merged, in: ctx)
    return projectionNorm.quantized(consume merged, affine, relu: false, adding: consume down, q.input, in: ctx)
  }

  /// The whole layer with both hand-overs: the merge quantized for the block's conv, and the block's
  /// GroupNorm + ReLU quantized with `params` for the conv that reads the layer's output. Only where
  /// `handsOverInt8`.
  func quantized(down: consuming FeatureMap, left: consuming StageFeature, _ params: QuantParams, in ctx: InferenceContext) -> QuantizedMap {
    let y = block.conv(StageFeature.quantized(mergedQuantized(down: consume down, left: consume left, in: ctx)), in: ctx)
    let affine = block.norm.affine(of: y, in: ctx)
    return block.norm.quantized(consume y, affine, relu: true, adding: nil, params, in: ctx)
  }
}

extension FPNConvLayer {
  /// `<p>.0` (3×3 conv, no bias) and `<p>.1` (GroupNorm).
  init(_ p: ModulePath, out: Int, in inC: Int, from source: any TensorSource) throws {
    self.init(conv: try source.conv(p.child(0), out: out, in: inC, kernel: 3, bias: false), norm: try source.groupNorm(p.child(1), out))
  }
}

extension FPNLayer {
  /// `fpn.layers.{i}`: `proj.0` (1×1 conv, no bias), `proj.1` (GroupNorm), `block`.
  init(_ p: ModulePath, features f: Int, lateral: Int, from source: any TensorSource) throws {
    self.init(projection: try source.conv(p.child("proj").child(0), out: f, in: lateral, kernel: 1, bias: false),
              projectionNorm: try source.groupNorm(p.child("proj").child(1), f),
              block: try FPNConvLayer(p.child("block"), out: f, in: f, from: source))
  }
}

/// `x += bilinear(down)` resized to the map's size with `align_corners=False` (torch's generic CPU
/// kernel: source `max(in/out·(d + 0.5) − 0.5, 0)`, upper neighbour clamped; along x first, then y), without
/// materializing the resized map. Mask2Former's FPN level (mask2former-spec.md §3.6). x holds rows
/// `firstRow ..< firstRow + x.height` of a map `mapHeight` rows tall (nil: x is the whole map).
func addBilinear(_ down: borrowing FeatureMap, into x: inout FeatureMap, firstRow: Int = 0, mapHeight: Int? = nil) {
  precondition(down.channels == x.channels, "addBilinear: \(down.channels) vs \(x.channels) channels")
  let (height, width, c) = (x.height, x.width, x.channels), dw = down.width
  guard !x.data.isDryRun else { return }
  let ys = LinearAxis(inSize: down.height, outSize: mapHeight ?? height), xs = LinearAxis(inSize: dw, outSize: width)
  down.data.withUnsafeBufferPointer { db in
    x.data.withUnsafeMutableBufferPointer { xb in
      let dp = db.baseAddress!, xp = xb.baseAddress!
      for y in 0..<height {
        let sy = firstRow + y
        let r0 = dp + ys.i0[sy] * dw * c, r1 = dp + ys.i1[sy] * dw * c, a0 = ys.l0[sy], a1 = ys.l1[sy]
        for xx in 0..<width {
          let p0 = xs.i0[xx] * c, p1 = xs.i1[xx] * c, b0 = xs.l0[xx], b1 = xs.l1[xx], dst = xp + (y * width + xx) * c
          for ch in 0..<c {
            let t0 = r0[p0 + ch] * b0 + r0[p1 + ch] * b1, t1 = r1[p0 + ch] * b0 + r1[p1 + ch] * b1
            dst[ch] += t0 * a0 + t1 * a1
          }
        }
      }
    }
  }
}
