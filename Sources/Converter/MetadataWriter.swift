// MetadataWriter: the model and preprocessing configuration as typed metadata records (the runtime
// reads these without Foundation or JSON).
import MaskFormerInt8

enum MetadataWriter {
  /// The records `write` makes.
  static func records(_ write: (inout ModelFileWriter) -> Void) -> [(String, MetadataValue)] {
    var w = ModelFileWriter()
    write(&w)
    return w.metadata
  }

  static func model(_ w: inout ModelFileWriter, _ c: MaskFormerConfig, _ p: PreprocessorConfig) {
    w.meta("general.architecture", .string(ModelFileFormat.maskFormerArchitecture))
    swin(&w, c.swin)
    w.meta("detr.d_model", .int(Int64(c.detr.dModel)))
    w.meta("detr.layers", .int(Int64(c.detr.layers)))
    w.meta("detr.heads", .int(Int64(c.detr.heads)))
    w.meta("detr.ffn_dim", .int(Int64(c.detr.ffnDim)))
    w.meta("detr.activation", .string(c.detr.activation.rawValue))
    w.meta("detr.num_queries", .int(Int64(c.detr.numQueries)))
    w.meta("maskformer.fpn_feature_size", .int(Int64(c.fpnFeatureSize)))
    w.meta("maskformer.mask_feature_size", .int(Int64(c.maskFeatureSize)))
    w.meta("maskformer.labels", .strings(c.labels))
    preprocess(&w, p)
  }

  static func model(_ w: inout ModelFileWriter, _ c: Mask2FormerConfig, _ p: PreprocessorConfig) {
    w.meta("general.architecture", .string(ModelFileFormat.mask2FormerArchitecture))
    swin(&w, c.swin)
    w.meta("mask2former.hidden_dim", .int(Int64(c.hiddenDim)))
    w.meta("mask2former.heads", .int(Int64(c.heads)))
    w.meta("mask2former.encoder_layers", .int(Int64(c.encoderLayers)))
    w.meta("mask2former.encoder_ffn_dim", .int(Int64(c.encoderFeedforward)))
    w.meta("mask2former.decoder_layers", .int(Int64(c.decoderLayers)))
    w.meta("mask2former.decoder_ffn_dim", .int(Int64(c.decoderFeedforward)))
    w.meta("mask2former.activation", .string(c.activation.rawValue))
    w.meta("mask2former.num_queries", .int(Int64(c.numQueries)))
    w.meta("mask2former.labels", .strings(c.labels))
    preprocess(&w, p)
  }

  static func swin(_ w: inout ModelFileWriter, _ c: SwinConfig) {
    w.meta("swin.embed_dim", .int(Int64(c.embedDim)))
    w.meta("swin.depths", .ints(c.depths.map(Int64.init)))
    w.meta("swin.num_heads", .ints(c.numHeads.map(Int64.init)))
    w.meta("swin.window_size", .int(Int64(c.windowSize)))
    w.meta("swin.patch_size", .int(Int64(c.patchSize)))
    w.meta("swin.mlp_ratio", .float(c.mlpRatio))
    w.meta("swin.qkv_bias", .int(c.qkvBias ? 1 : 0))
    w.meta("swin.layer_norm_eps", .float(Double(c.layerNormEps)))
    w.meta("swin.hidden_act", .string(c.hiddenAct.rawValue))
  }

  static func preprocess(_ w: inout ModelFileWriter, _ p: PreprocessorConfig) {
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
