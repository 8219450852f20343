// EdgeSeg: the library an app imports. One import gives the model, the images and their decoders,
// the kernels' dispatch table, and the pipeline: open a model file or a checkpoint folder
// (`SegmentationModel`), prepare a `Session` for an image size, segment image after image.
//
//   import EdgeSeg
//   let model = try SegmentationModel(path: "model.eseg")
//   let session = try model.session(for: image)
//   let result = try session.segment(image)
//
// Threads: a `SegmentationModel` is immutable (its weights a read-only mapping) and Sendable: share one
// across any number of threads. A `Session` (and a `SessionCache`) owns an arena and is used by one
// thread at a time; give each thread its own (it may use `SessionConfiguration.threads` workers inside
// each call). Results (`SegmentationResult`) are values. Tests/MaskFormerTests/ConcurrencyTests runs four
// sessions at once over one model and checks every output against the serial one.
@_exported import ImageCodecs
@_exported import Imaging
@_exported import Kernels
@_exported import MaskFormerInt8

public enum EdgeSeg {
  /// The library's version (`edge-seg --version`).
  public static let version = "0.6.0"
}

/// How a model's weights are stored.
public enum ModelPrecision: String, Sendable, CaseIterable {
  /// A checkpoint folder or a float32 model file: f32 weights, used in place from the mapping.
  case float32
  /// A float16 model file: weights widened to f32 once, at load, on the heap.
  case float16
  /// An int8 model file: packed int8 Linear/conv weights in place, the rest f32.
  case int8
}
