// MemoryPlan: the activation memory of one image (pre-processing, forward pass, post-processing)
// predicted from the shapes alone, and the streaming parameters (`tokenChunk`, `bandRows`) that keep
// it under a budget (`edge-seg run --max-memory`). The prediction lists the large buffers alive in
// each phase, as the runtime allocates them, and takes the largest phase; weights and the process's
// own baseline (binary, runtime) are the caller's to add.

public struct MemoryPlan: Sendable, Equatable {
  public var tokenChunk: Int
  /// `Int.max`: the stride-4 maps whole.
  public var bandRows: Int
  /// Predicted peak of the activations, bytes, and the phase where it lies.
  public var predictedBytes: Int
  public var phase: String
  /// The arena for this plan: the largest phase's arena buffers plus 1/8 and 1 MiB for alignment and
  /// fragmentation (first fit).
  public var arenaBytes: Int

  /// Candidate settings from fastest (whole maps) to leanest.
  public static let candidates: [(tokenChunk: Int, bandRows: Int)] = [
    (4096, .max), (4096, 64), (4096, 32), (2048, 16), (1024, 8), (512, 4),
  ]

  /// Allocator and thread overheads not in the buffer list, and the margin a plan must leave: with
  /// them, predictions were within -0 % and +5 % of the measured peak (swin-tiny-ade int8 with the
  /// arena, 512²-2048², whole maps and the streaming candidates the budgets 256M-100M pick).
  public static let fixedOverhead = 6 << 20
  public static let margin = 0.02

  /// The fastest candidate whose predicted activations, plus `margin`, fit `budget` bytes, or an
  /// error with the leanest plan's prediction when none does.
  public static func choose(_ config: MaskFormerConfig, input: (height: Int, width: Int), image: (height: Int, width: Int),
                            int8: Bool, budget: Int) -> Result<MemoryPlan, MemoryPlanError> {
    var leanest: MemoryPlan?
    for c in candidates {
      let plan = predict(config, input: input, image: image, int8: int8, tokenChunk: c.tokenChunk, bandRows: c.bandRows)
      if Double(plan.predictedBytes) * (1 + margin) <= Double(budget) { return .success(plan) }
      leanest = plan
    }
    return .failure(MemoryPlanError(budget: budget, leanest: leanest!))
  }

  /// The predicted peak for given streaming parameters. Each phase lists its buffers in the arena
  /// (activations, logits, post-processing scratch) and on the heap (the decoded image, the output
  /// map). The peak is that of the live buffers: a single run's arena returns the pages of freed
  /// blocks (`Arena.returnsFreedPages`); one kept for image after image keeps them (`profile`
  /// reports its high-water mark).
  public static func predict(_ config: MaskFormerConfig, input: (height: Int, width: Int), image: (height: Int, width: Int),
                             int8: Bool, tokenChunk: Int, bandRows: Int) -> MemoryPlan {
    let f = 4  // bytes per float
    let s = config.swin, fpn = config.fpnFeatureSize, m = config.maskFeatureSize, q = config.detr.numQueries
    let (hh, ww) = (input.height, input.width)
    let imageBytes = 3 * image.height * image.width, outputMap = 4 * image.height * image.width
    let pixelValues = 3 * hh * ww * f
    // Stage maps: stride 4·2^i, embed·2^i channels.
    var h = (hh + s.patchSize - 1) / s.patchSize, w = (ww + s.patchSize - 1) / s.patchSize
    // (name, arena bytes, heap bytes); the resize's intermediate image is on the heap.
    var phases: [(String, Int, Int)] = [("preprocess", pixelValues, imageBytes + pixelValues)]
    let (h0, w0) = (h, w)
    var kept = 0           // stage features held for the pixel decoder
    var featureBytes: [Int] = [], areas: [Int] = []
    var c = s.embedDim
    let chunk0 = Swift.min(tokenChunk, h * w)
    phases.append(("embeddings", pixelValues + h * w * c * f + chunk0 * (3 * s.patchSize * s.patchSize + 2 * c) * f, imageBytes))
    for stage in 0..<s.stageCount {
      let tokens = h * w, chunk = Swift.min(tokenChunk, tokens)
      let x = tokens * c * f
      let hidden = Int(s.mlpRatio * Double(c))
      // Per chunk: gathered rows, norm, q/k/v, context, projection out (floats) and the MLP's hidden
      // activations (int8 when quantized, float otherwise).
      let transient = chunk * (7 * c * f + hidden * (int8 ? 1 : f) + c * f)
      phases.append(("encoder.stage\(stage)", kept + x + transient, imageBytes))
      let feature = (int8 && stage < s.stageCount - 1) ? tokens * ((c + 3) / 4 * 4) : tokens * c * f
      kept += feature
      featureBytes.append(feature)
      areas.append(tokens)
      if stage < s.stageCount - 1 {
        let (ho, wo) = ((h + 1) / 2, (w + 1) / 2)
        let band = Swift.min(ho * wo, Swift.max(wo, tokenChunk))
        phases.append(("encoder.stage\(stage).downsample", kept + x + ho * wo * 2 * c * f + band * 4 * c * f * 2, imageBytes))
        (h, w, c) = (ho, wo, 2 * c)
      }
    }
    // Coarse FPN levels, coarsest first. The coarsest feature stays for the transformer; finer ones
    // wait for their level. The stem: that feature's int8 copy and its output. A level: the lateral
    // conv's float output beside the feature it read and the coarser level's output, then beside its
    // own int8 copy for the 3×3 conv.
    let last = s.stageCount - 1, top = featureBytes[last]
    var coarse = featureBytes.reduce(0, +) + areas[last] * fpn * (f + 1)
    for i in stride(from: last - 1, through: 1, by: -1) {
      let held = featureBytes[0..<i].reduce(0, +) + top
      coarse = Swift.max(coarse, held + areas[i] * fpn * f + Swift.max(featureBytes[i] + areas[i + 1] * fpn * f, areas[i] * fpn))
    }
    phases.append(("pixel_decoder", coarse, imageBytes))
    // The stride-4 level: the feature, the stride-8 output and the logits, with the level's maps whole
    // (float output and its int8 copy; then the pixel embeddings and their copy packed for the
    // einsum) or one band of them.
    let a0 = h0 * w0, f0 = featureBytes[0], y8 = areas[1] * fpn * f, masks = q * a0 * f
    if bandRows >= h0 {
      phases.append(("mask_decoder", Swift.max(f0 + y8 + a0 * fpn * (f + 1), 2 * a0 * m * f + masks), imageBytes))
    } else {
      phases.append(("mask_decoder", f0 + y8 + masks + Swift.max(bandRows * w0 * 2 * m * f, (bandRows + 4) * w0 * fpn * (f + 1)),
                     imageBytes))
    }
    // Post-processing: the logits and the owner map in the arena; the output map, the overlay and row
    // caches on the heap.
    phases.append(("postprocess", masks + outputMap, imageBytes + outputMap + 2 * imageBytes + 2 * (config.numLabels + q) * w0 * f))
    let peak = phases.max { $0.1 + $0.2 < $1.1 + $1.2 }!, arena = phases.map(\.1).max()!
    return MemoryPlan(tokenChunk: tokenChunk, bandRows: bandRows, predictedBytes: peak.1 + peak.2 + fixedOverhead, phase: peak.0,
                      arenaBytes: arena + arena / 8 + (1 << 20))
  }
}

public struct MemoryPlanError: Error, Sendable, CustomStringConvertible {
  public var budget: Int
  public var leanest: MemoryPlan

  public var description: String {
    "needs at least \(leanest.predictedBytes >> 20) MiB for activations (streamed as far as edge-seg can, peak in \(leanest.phase)); "
      + "the budget leaves \(Swift.max(0, budget) >> 20) MiB"
  }
}
