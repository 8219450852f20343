// LayerDrift: each layer's output in a quantized model against the same layer in the float model, in
// graph order, plus the end-to-end drift. Both models run on the same pixel_values; the float model's
// layer outputs are kept (one image at a time) and the quantized model's are compared as they appear.
// Both run the shipped graph (chunks, bands and int8 hand-over on): a layer seen in chunks is compared
// chunk by chunk against the same span of the float layer's values (the two models cut a layer in the
// same order, though not always at the same places: the int8 stage features are produced in chunks);
// an int8 hand-over is seen as the dequantized int8 values the next layer reads.
import MaskFormerInt8

public struct LayerDriftRow: Sendable {
  public var layer: String
  /// Drift of the layer's input (accumulated upstream) and output.
  public var input = TensorDrift()
  public var output = TensorDrift()

  /// Noise-to-signal power the layer itself adds: NSR(output) − NSR(input), floored at 0.
  public var addedNoise: Double {
    func nsr(_ d: TensorDrift) -> Double { d.signal > 0 ? d.noise / d.signal : 0 }
    return max(0, nsr(output) - nsr(input))
  }
}

public struct DriftReport: Sendable {
  public var layers: [LayerDriftRow] = []
  public var output = OutputDrift()
  public var images = 0
}

public enum LayerDrift {
  /// Post-processing of the end-to-end comparison (panoptic: the processor's defaults).
  public static func measure(reference: any SegmentationNetwork, quantized: any SegmentationNetwork, inputs: [PixelValues], context: InferenceContext,
                             progress: (Int, Int) -> Void = { _, _ in }) -> DriftReport {
    var report = DriftReport()
    var index: [String: Int] = [:]
    for (n, pv) in inputs.enumerated() {
      var floats: [String: (input: [Float], output: [Float])] = [:]
      var order: [String] = []
      var ctx = context
      ctx.observer = LayerObserver { layer, tap, values in
        if floats[layer] == nil { order.append(layer); floats[layer] = ([], []) }
        switch tap {
        case .input: floats[layer]!.input += values
        case .output: floats[layer]!.output += values
        }
      }
      let f = reference.logits(pixelValues: ArenaArray(pv.data), height: pv.height, width: pv.width, in: ctx)
      for layer in order where index[layer] == nil {
        index[layer] = report.layers.count
        report.layers.append(LayerDriftRow(layer: layer))
      }
      var rows = report.layers
      var cursor: [String: (input: Int, output: Int)] = [:]
      ctx.observer = LayerObserver { layer, tap, values in
        guard let i = index[layer], let ref = floats[layer] else { return }
        let r = tap == .input ? ref.input : ref.output
        let at = tap == .input ? cursor[layer, default: (0, 0)].input : cursor[layer, default: (0, 0)].output
        guard at + values.count <= r.count else { return }
        r.withUnsafeBufferPointer { rb in
          let slice = UnsafeBufferPointer(rebasing: rb[at..<(at + values.count)])
          if tap == .input { rows[i].input.add(values, reference: slice) } else { rows[i].output.add(values, reference: slice) }
        }
        if tap == .input { cursor[layer, default: (0, 0)].input += values.count } else { cursor[layer, default: (0, 0)].output += values.count }
      }
      let q = quantized.logits(pixelValues: ArenaArray(pv.data), height: pv.height, width: pv.width, in: ctx)
      report.layers = rows
      floats = [:]
      let target = (height: pv.height, width: pv.width)
      // Each family's own post-processing (Mask2Former's works at 384 × 384), the processor's defaults.
      let semantic = SegmentationOptions(task: .semantic, threshold: 0.5, maskThreshold: 0.5, overlapMaskAreaThreshold: 0.8, labelIdsToFuse: [])
      report.output.add(int8: q, float: f, int8Semantic: quantized.postprocess(q, options: semantic, target: target),
                        floatSemantic: reference.postprocess(f, options: semantic, target: target),
                        int8Panoptic: quantized.postprocess(q, options: .processor, target: target),
                        floatPanoptic: reference.postprocess(f, options: .processor, target: target))
      report.images += 1
      progress(n + 1, inputs.count)
    }
    // Layers the quantized graph does not compute (MaskFormer's int8 mask projection, folded into the
    // mask-logit conv) have nothing to compare: no row, rather than one that reads as exact.
    report.layers.removeAll { $0.output.count == 0 && $0.input.count == 0 }
    return report
  }
}
