// MetadataWriter: the model and preprocessing configuration as typed metadata records (the runtime
// reads these without Foundation or JSON).
import MaskFormerInt8

enum MetadataWriter {
  static func model(_ w: inout ModelFileWriter, _ c: MaskFormerConfig, _ p: PreprocessorConfig) {
    w.meta("general.architecture", .string("MaskFormerForInstanceSegmentation/swin"))
    w.meta("swin.embed_dim", .int(Int64(c.swin.embedDim)))
    w.meta("swin.depths", .ints(c.swin.depths.map(Int64.init)))
    w.meta("swin.num_heads", .ints(c.swin.numHeads.map(Int64.init)))
    w.meta("swin.window_size", .int(Int64(c.swin.windowSize)))
    w.meta("swin.patch_size", .int(Int64(c.swin.patchSize)))
    w.meta("swin.mlp_ratio", .float(c.swin.mlpRatio))
    w.meta("swin.qkv_bias", .int(c.swin.qkvBias ? 1 : 0))
    w.meta("swin.layer_norm_eps", .float(Double(c.swin.layerNormEps)))
    w.meta("swin.hidden_act", .string(c.swin.hiddenAct.rawValue))
    w.meta("detr.d_model", .int(Int64(c.detr.dModel)))
    w.meta("detr.layers", .int(Int64(c.detr.layers)))
    w.meta("detr.heads", .int(Int64(c.detr.heads)))
    w.meta("detr.ffn_dim", .int(Int64(c.detr.ffnDim)))
    w.meta("detr.activation", .string(c.detr.activation.rawValue))
    w.meta("detr.num_queries", .int(Int64(c.detr.numQueries)))
    w.meta("maskformer.fpn_feature_size", .int(Int64(c.fpnFeatureSize)))
    w.meta("maskformer.mask_feature_size", .int(Int64(c.maskFeatureSize)))
    w.meta("maskformer.labels", .strings(c.labels))
    switch p.size {
    case .shortestEdge(let s, let l): w.meta("preprocess.size", .ints([0, Int64(s), Int64(l ?? 0)]))
    case .fixed(let h, let wd): w.meta("preprocess.size", .ints([1, Int64(h), Int64(wd)]))
    case .maxSize(let h, let wd): w.meta("preprocess.size", .ints([2, Int64(h), Int64(wd)]))
    }
    w.meta("preprocess.size_kind", .string("0 = shortest_edge/longest_edge (0: none), 1 = height/width, 2 = max_height/max_width"))
    w.meta("preprocess.do_resize", .int(p.doResize ? 1 : 0))
    w.meta("preprocess.size_divisor", .int(Int64(p.sizeDivisor)))
    w.meta("preprocess.resample", .int(Int64(p.resample)))
    w.meta("preprocess.do_rescale", .int(p.doRescale ? 1 : 0))
    w.meta("preprocess.rescale_factor", .float(p.rescaleFactor))
    w.meta("preprocess.do_normalize", .int(p.doNormalize ? 1 : 0))
    w.meta("preprocess.image_mean", .floats(p.imageMean))
    w.meta("preprocess.image_std", .floats(p.imageStd))
  }
}
