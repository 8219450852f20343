// Bands: what streaming a stride-4 map in bands of rows needs, shared by MaskFormer's mask decoder and
// Mask2Former's pixel decoder. A band's ops are the whole map's ops on fewer rows (a conv's rows are
// independent, a GroupNorm's statistics are gathered row by row in map order), so streamed results are
// the whole map's, bit for bit; the GroupNorms cost a statistics pass each, recomputing what feeds them.
import Kernels

/// The bands of at most `rows` rows (at least 1) covering a map `height` rows tall, top to bottom.
func bands(height: Int, rows: Int) -> [Range<Int>] {
  let band = Swift.max(1, rows)
  return stride(from: 0, to: height, by: band).map { $0..<Swift.min(height, $0 + band) }
}

extension StageFeature {
  /// This feature quantized once for `conv` when that conv is int8 (each band would quantize its rows anyway,
  /// and a quarter of the bytes stay); as it is otherwise.
  consuming func quantized(for conv: Conv2d, in ctx: InferenceContext) -> StageFeature {
    switch consume self {
    case .float(let f): conv.quantized.map { .quantized(QuantizedMap(f, $0.input, in: ctx)) } ?? .float(f)
    case .quantized(let a): .quantized(a)
    }
  }
}

extension Conv2d {
  /// Output rows `rows` of this 1×1 conv on a whole map, float or quantized for it.
  func rows(_ rows: Range<Int>, of source: StageFeature, in ctx: InferenceContext) -> FeatureMap {
    precondition(kernelSize == 1, "\(name): rows of a \(kernelSize)x\(kernelSize) conv need a halo")
    return switch source {
    case .quantized: self(source, window: RowWindow(first: 0, mapHeight: source.height, output: rows), in: ctx)
    case .float(let f): self(f.rows(rows), window: RowWindow(first: rows.lowerBound, mapHeight: f.height, output: rows), in: ctx)
    }
  }
}

extension GroupNorm {
  /// This GroupNorm's `(scale, shift)` over a map that `produce` makes band by band (`bands` in map order), the
  /// same as `affine(of:)` of the whole map. The pass recomputes what the production pass makes again: observed
  /// as a "recompute" span (timed; calibration and drift skip the layers inside it).
  func statistics(over bands: [Range<Int>], in ctx: InferenceContext, _ produce: (Range<Int>) -> FeatureMap) -> ArenaArray<Float> {
    ctx.span(name.key("statistics"), "recompute") {
      affine(in: ctx) { stats in
        for rows in bands {
          let y = produce(rows)
          if !ctx.isDryRun {
            y.data.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: y.height, width: y.width, threads: ctx.threads, kernel: ctx.kernels.norm) }
          }
        }
      }
    }
  }
}
