// Mask2Former's mask features (issue 21): the stride-4 map that all ten mask predictions read. Whole, or
// deferred when the pixel decoder streams its stride-4 level: then the mask projection's input is kept
// (int8 when the projection is: 64 MiB instead of the 256 MiB float map at a 2048x2048 input) and the
// projection (a 1×1 conv) runs again on the rows or pixels each prediction reads. A pixel's features are
// the same either way (the conv's rows are independent), so every prediction is.
import Kernels

public struct MaskFeatures {
  enum Storage {
    case whole(FeatureMap)
    /// The mask projection's input and the projection.
    case deferred(input: StageFeature, projection: Conv2d)
  }

  let storage: Storage
  public let height: Int
  public let width: Int
  public let channels: Int

  init(whole f: FeatureMap) {
    storage = .whole(f)
    (height, width, channels) = (f.height, f.width, f.channels)
  }

  init(input: StageFeature, projection: Conv2d) {
    precondition(projection.kernelSize == 1, "\(projection.name): deferred mask features need a 1x1 projection")
    storage = .deferred(input: input, projection: projection)
    (height, width, channels) = (input.height, input.width, projection.outChannels)
  }

  public var pixels: Int { height * width }
  var isDeferred: Bool { if case .deferred = storage { true } else { false } }

  /// The features of map rows `rows` (`rows.count·width` pixels of `channels` floats) handed to `body`.
  func withRows<R>(_ rows: Range<Int>, in ctx: InferenceContext, _ body: (UnsafePointer<Float>) -> R) -> R {
    switch storage {
    case .whole(let f):
      return f.data.withUnsafeBufferPointer { body($0.baseAddress! + rows.lowerBound * width * channels) }
    case .deferred(let input, let projection):
      let band = projection.rows(rows, of: input, in: ctx)
      return band.data.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
  }

  /// The features of pixels `(rows[r], cols[c])` as a `rows.count × cols.count` map.
  func gathered(rows: [Int], cols: [Int], in ctx: InferenceContext) -> FeatureMap {
    switch storage {
    case .whole(let f): return f.gathered(rows: rows, cols: cols, in: ctx)
    case .deferred(.float(let f), let projection): return projection(f.gathered(rows: rows, cols: cols, in: ctx), in: ctx)
    case .deferred(.quantized(let a), let projection): return projection(StageFeature.quantized(a.gathered(rows: rows, cols: cols, in: ctx)), in: ctx)
    }
  }

  /// The mask logits of every pixel, `out[q·ldc + p] = Σ_c e[q][c]·features[p][c]` (`ldc` = height·width): the
  /// einsum on the whole map, or band by band (`ctx.bandRows` rows) on deferred features.
  func logits(_ e: ArenaArray<Float>, queries nq: Int, into out: UnsafeMutablePointer<Float>, in ctx: InferenceContext) {
    switch storage {
    case .whole(let f):
      MaskDecoder.einsum(e, queries: nq, f, into: out, ldc: pixels, in: ctx)
    case .deferred(let input, let projection):
      for rows in bands(height: height, rows: ctx.bandRows) {
        MaskDecoder.einsum(e, queries: nq, projection.rows(rows, of: input, in: ctx), into: out + rows.lowerBound * width, ldc: pixels, in: ctx)
      }
    }
  }
}

extension FeatureMap {
  /// Pixels `(rows[r], cols[c])` of this map as a `rows.count × cols.count` map.
  func gathered(rows: [Int], cols: [Int], in ctx: InferenceContext) -> FeatureMap {
    let (w, d) = (width, channels)
    return FeatureMap(height: rows.count, width: cols.count, channels: d, in: ctx.arena) { g in
      guard !ctx.isDryRun else { return }
      data.withUnsafeBufferPointer { f in
        parallelFor(rows.count, threads: ctx.threads) { r in
          let y = rows[r]
          for (c, x) in cols.enumerated() { (g.baseAddress! + (r * cols.count + c) * d).update(from: f.baseAddress! + (y * w + x) * d, count: d) }
        }
      }
    }
  }
}

extension QuantizedMap {
  /// Pixels `(rows[r], cols[c])` of this map as a `rows.count × cols.count` map (with its row of zero points).
  func gathered(rows: [Int], cols: [Int], in ctx: InferenceContext) -> QuantizedMap {
    let (w, s, n) = (width, stride, rows.count * cols.count)
    let data = ArenaArray<Int8>(unsafeUninitializedCount: (n + 1) * s, in: ctx.arena) { g in
      guard !ctx.isDryRun else { return }
      self.data.withUnsafeBufferPointer { f in
        for (r, y) in rows.enumerated() {
          for (c, x) in cols.enumerated() { (g.baseAddress! + (r * cols.count + c) * s).initialize(from: f.baseAddress! + (y * w + x) * s, count: s) }
        }
        (g.baseAddress! + n * s).initialize(repeating: Int8(clamping: params.zeroPoint), count: s)
      }
    }
    return QuantizedMap(data: data, height: rows.count, width: cols.count, stride: s, params: params)
  }
}
