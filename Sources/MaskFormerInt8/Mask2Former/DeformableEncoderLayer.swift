// The deformable-attention encoder layer of Mask2Former's pixel decoder (issue 21; mask2former-spec.md
// §3.2-3.4): Mask2FormerPixelDecoderEncoderMultiscaleDeformableAttention and
// Mask2FormerPixelDecoderEncoderLayer (post-norm, ReLU FFN), transformers' modeling_mask2former.py.
import Kernels

/// The levels the deformable attention samples: their sizes, coarsest first, and where each level's
/// tokens start in the concatenated sequence.
public struct DeformableLevels: Sendable, Equatable {
  public let heights: [Int]
  public let widths: [Int]

  public init(heights: [Int], widths: [Int]) {
    precondition(heights.count == widths.count, "levels: \(heights.count) heights, \(widths.count) widths")
    self.heights = heights
    self.widths = widths
  }

  public var count: Int { heights.count }
  public var tokens: Int { zip(heights, widths).reduce(0) { $0 + $1.0 * $1.1 } }
  public func start(_ l: Int) -> Int { (0..<l).reduce(0) { $0 + heights[$1] * widths[$1] } }
  /// The level whose tokens include token t of the sequence.
  public func level(of t: Int) -> Int {
    var end = 0
    for l in 0..<count {
      end += heights[l] * widths[l]
      if t < end { return l }
    }
    preconditionFailure("token \(t) past the \(end) tokens of the levels")
  }
  var shapes: [(height: Int, width: Int)] { zip(heights, widths).map { (height: $0, width: $1) } }
}

/// The encoder's position of every token: each level's sine embedding plus its level embedding
/// (`pos + level_embed[l]`), made a chunk of tokens at a time: the whole `S × D` array (84 MiB at a 2048x2048
/// input) never exists. The same expressions as the whole embedding (`SinePositionEmbedding.Tables`), the same bits.
struct DeformablePositions {
  let levels: DeformableLevels
  let tables: [SinePositionEmbedding.Tables]
  let features: Int
  /// `level_embed` `[levels, D]`.
  let levelEmbed: UnsafePointer<Float>

  init(levels: DeformableLevels, features d: Int, levelEmbed: UnsafePointer<Float>) {
    self.levels = levels
    tables = (0..<levels.count).map { SinePositionEmbedding.Tables(height: levels.heights[$0], width: levels.widths[$0], features: d / 2) }
    features = d
    self.levelEmbed = levelEmbed
  }

  /// Tokens `first ..< first + count` of the sequence (any levels) into `out` (`count × D`).
  func tokens(_ first: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
    let d = features
    var t = first
    while t < first + count {
      let l = levels.level(of: t), start = levels.start(l)
      let n = Swift.min(first + count, start + levels.heights[l] * levels.widths[l]) - t, row = out + (t - first) * d
      tables[l].tokens(t - start, count: n, into: row)
      let embed = levelEmbed + l * d
      for i in 0..<n { for c in 0..<d { row[i * d + c] = row[i * d + c] + embed[c] } }
      t += n
    }
  }
}

/// `MultiscaleDeformableAttention` of the pixel decoder's encoder: value, sampling offsets, attention
/// weights and output projections.
public struct MultiscaleDeformableAttention {
  public let valueProjection: Linear
  public let samplingOffsets: Linear
  public let attentionWeights: Linear
  public let outputProjection: Linear
  public let heads: Int
  public let points: Int

  /// `value_proj` of every token: float, or int8 when the projection is (requantized in its epilogue with its
  /// calibrated output parameters: a quarter of the memory; the sampling dequantizes each corner).
  func values(_ x: ArenaArray<Float>, rows s: Int, in ctx: InferenceContext) -> DeformableValues {
    let v = valueProjection, d = v.outFeatures
    guard let q = v.quantized, let output = q.output else { return .float(v(x, rows: s, in: ctx)) }
    return .int8(ctx.op(OpInfo(name: v.name.description, kind: "linear", macs: s * v.inFeatures * d, bytes: s * (4 * v.inFeatures + d) + v.inFeatures * d,
                               precision: "int8"),
                        input: { emit in x.withUnsafeBufferPointer { emit(.floats($0, columns: v.inFeatures)) } },
                        output: { y, emit in y.withView(columns: d, emit) }, shape: { _ in [s, d] }) {
      x.withUnsafeBufferPointer {
        q.linear(QuantizedRows($0.baseAddress!, rows: s, k: v.inFeatures, xStride: v.inFeatures, q.input, in: ctx), n: d, activation: .identity,
                 next: output, in: ctx)
      }
    })
  }

  /// `output_proj(MSDA(value, queries)) + residual` for the query tokens `first ..< first + rows`: `queries` and
  /// `residual` hold those rows (x + position and x), `value` is `value_proj` of every token.
  func callAsFunction(value: borrowing DeformableValues, queries: ArenaArray<Float>, residual: UnsafePointer<Float>, first: Int, rows: Int,
                      levels: DeformableLevels, in ctx: InferenceContext) -> ArenaArray<Float> {
    let d = valueProjection.outFeatures, (nl, np, nh) = (levels.count, points, heads)
    var locations = samplingOffsets(queries, rows: rows, in: ctx)
    var weights = attentionWeights(queries, rows: rows, in: ctx)
    let info = ctx.info(OpInfo(name: valueProjection.name.parent.key("msda"), kind: "deformable-attention", macs: rows * nh * nl * np * (d / nh) * 5,
                               bytes: rows * (d * 8 + nh * nl * np * 12)))
    ctx.observer?.begin(info!, input: nil)
    var sampled = ctx.floats(rows * d) { _ in }
    if !ctx.isDryRun {
      // Softmax over each head's levels × points; offsets → locations: the token's own level's pixel centre
      // `((j + 0.5)/W, (i + 0.5)/H)` plus the offset in pixels of the sampled level (`off / (W_l, H_l)`).
      weights.withUnsafeMutableBufferPointer { Norms.softmaxRows($0.baseAddress!, rows: rows * nh, cols: nl * np) }
      let starts = (0..<nl).map { levels.start($0) }
      locations.withUnsafeMutableBufferPointer { lb in
        let loc = lb.baseAddress!, perToken = nh * nl * np * 2
        parallelFor((rows + 63) / 64, threads: ctx.threads) { c in
          for r in c * 64..<Swift.min(rows, (c + 1) * 64) {
            let t = first + r, own = levels.level(of: t)
            let (h, w) = (levels.heights[own], levels.widths[own]), i = (t - starts[own]) / w, j = (t - starts[own]) % w
            let refX = (Float(j) + 0.5) / Float(w), refY = (Float(i) + 0.5) / Float(h), row = loc + r * perToken
            for m in 0..<nh {
              for l in 0..<nl {
                let sw = Float(levels.widths[l]), sh = Float(levels.heights[l]), o = row + ((m * nl + l) * np) * 2
                for p in 0..<np {
                  o[2 * p] = refX + o[2 * p] / sw
                  o[2 * p + 1] = refY + o[2 * p + 1] / sh
                }
              }
            }
          }
        }
      }
      locations.withUnsafeBufferPointer { lb in
        weights.withUnsafeBufferPointer { ab in
          sampled.withUnsafeMutableBufferPointer { ob in
            switch value {
            case .float(let v):
              v.withUnsafeBufferPointer { vb in
                DeformableAttention.run(value: vb.baseAddress!, shapes: levels.shapes, heads: nh, headDim: d / nh, locations: lb.baseAddress!,
                                        weights: ab.baseAddress!, queries: rows, points: np, out: ob.baseAddress!, threads: ctx.threads,
                                        kernel: ctx.kernels.attention)
              }
            case .int8(let v):
              precondition(v.stride == d, "int8 values: row stride \(v.stride) for \(d) channels")
              v.data.withUnsafeBufferPointer { vb in
                DeformableAttention.runInt8(value: vb.baseAddress!, scale: v.params.scale, zeroPoint: v.params.zeroPoint, shapes: levels.shapes,
                                            heads: nh, headDim: d / nh, locations: lb.baseAddress!, weights: ab.baseAddress!, queries: rows,
                                            points: np, out: ob.baseAddress!, threads: ctx.threads, kernel: ctx.kernels.attention)
              }
            }
          }
        }
      }
    }
    if let observer = ctx.observer {
      sampled.withUnsafeBufferPointer { observer.end(info!, output: .floats($0, columns: d), shape: [rows, d]) }
    }
    return sampled.withUnsafeBufferPointer { outputProjection($0.baseAddress!, rows: rows, xStride: d, residual: residual, in: ctx) }
  }
}

/// The values the deformable attention samples: float, or int8 with their quantization.
enum DeformableValues {
  case float(ArenaArray<Float>)
  case int8(QuantizedRows)
}

/// `Mask2FormerPixelDecoderEncoderLayer`: `x = LN(x + MSDA(x, x + pos))`, then `x = LN(x + fc2(ReLU(fc1(x))))`.
public struct DeformableEncoderLayer {
  public let attention: MultiscaleDeformableAttention
  public let attentionNorm: LayerNorm
  public let fc1: Linear
  public let fc2: Linear
  public let finalNorm: LayerNorm

  /// The layer on every token of x (`levels.tokens × D`), in place: the values of every token first (each
  /// query samples any of them), then the queries in chunks of `ctx.tokenChunk` tokens, each chunk's result
  /// written over its own rows of x (which nothing else reads afterwards), so that the attention's and the
  /// FFN's transient buffers are a chunk's, not the map's.
  func callAsFunction(_ x: inout ArenaArray<Float>, position: DeformablePositions, levels: DeformableLevels, in ctx: InferenceContext) {
    let s = levels.tokens, d = attention.valueProjection.inFeatures, chunk = Swift.max(1, Swift.min(ctx.tokenChunk, s))
    let value = attention.values(x, rows: s, in: ctx)
    for first in stride(from: 0, to: s, by: chunk) {
      let rows = Swift.min(chunk, s - first)
      let z: ArenaArray<Float> = x.withUnsafeBufferPointer { xb in
        let residual = xb.baseAddress! + first * d
        let queries = ctx.floats(rows * d) { q in
          guard !ctx.isDryRun else { return }
          position.tokens(first, count: rows, into: q.baseAddress!)
          for i in 0..<(rows * d) { q[i] = residual[i] + q[i] }
        }
        let a = attention(value: value, queries: queries, residual: residual, first: first, rows: rows, levels: levels, in: ctx)
        let y = attentionNorm(a, rows: rows, in: ctx)
        let f = y.withUnsafeBufferPointer { Linear.mlp(fc1, fc2, y, rows: rows, activation: .relu, residual: $0.baseAddress!, in: ctx) }
        return finalNorm(f, rows: rows, in: ctx)
      }
      if !ctx.isDryRun {
        z.withUnsafeBufferPointer { zb in x.withUnsafeMutableBufferPointer { (xb) in (xb.baseAddress! + first * d).update(from: zb.baseAddress!, count: rows * d) } }
      }
    }
  }
}

extension DeformableEncoderLayer {
  /// `model.pixel_level_module.decoder.encoder.layers.{i}`.
  init(_ p: ModulePath, _ c: Mask2FormerConfig, from source: any TensorSource) throws {
    let d = c.hiddenDim, a = p.child("self_attn"), samples = c.heads * Mask2FormerConfig.levels * Mask2FormerConfig.points
    attention = MultiscaleDeformableAttention(
      valueProjection: try source.linear(a.child("value_proj"), out: d, in: d, bias: true),
      samplingOffsets: try source.linear(a.child("sampling_offsets"), out: 2 * samples, in: d, bias: true),
      attentionWeights: try source.linear(a.child("attention_weights"), out: samples, in: d, bias: true),
      outputProjection: try source.linear(a.child("output_proj"), out: d, in: d, bias: true),
      heads: c.heads, points: Mask2FormerConfig.points)
    attentionNorm = try source.layerNorm(p.child("self_attn_layer_norm"), d)
    fc1 = try source.linear(p.child("fc1"), out: c.encoderFeedforward, in: d, bias: true)
    fc2 = try source.linear(p.child("fc2"), out: d, in: c.encoderFeedforward, bias: true)
    finalNorm = try source.layerNorm(p.child("final_layer_norm"), d)
  }
}
