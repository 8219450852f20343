// SegmentationModel: a model opened by path, a converted model file (int8, float16 or float32, mapped
// read-only, validated, weights in place) or a Hugging Face checkpoint folder (float32), with its
// preprocessing, labels and the facts the memory plan needs.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Converter
import ProcessStats

public struct SegmentationModel: @unchecked Sendable {  // immutable after init; the mapping is read-only
  /// The model file or checkpoint folder it was opened from.
  public let path: String
  public let network: any SegmentationNetwork
  public var preprocessor: PreprocessorConfig
  public let precision: ModelPrecision
  /// Bytes of the mapped file (the model file, or the checkpoint's model.safetensors).
  public let mappedWeightBytes: Int
  /// Bytes of weights widened onto the heap at load (float16 files, F16/BF16 checkpoints).
  public let heapWeightBytes: Int
  /// Resident memory of the process when the model began to open (the program and runtime), bytes.
  public let baselineBytes: Int
  /// Keeps the mapping alive.
  let owner: AnyObject

  public var labels: [String] { network.labels }

  /// Opens `path`: a folder is read as a Hugging Face checkpoint, a file as an edge-seg model file.
  /// Errors name the file and the field or tensor at fault (`CheckpointError`, `SafetensorsError`,
  /// `ModelFileError`, `MappedFileError`).
  public init(path: String) throws {
    let baseline = ProcessMemory.residentNowKB() * 1024
    let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    if type == .typeDirectory {
      if try Checkpoint.modelType(directory: path) == "mask2former" {
        self.init(checkpoint: try Mask2FormerCheckpoint(directory: path), baselineBytes: baseline)
      } else {
        self.init(checkpoint: try Checkpoint(directory: path), baselineBytes: baseline)
      }
    } else {
      try self.init(file: try ModelFile(path: path), network: nil, baselineBytes: baseline)
    }
  }

  /// A checkpoint already open (float32).
  public init(checkpoint: Checkpoint, baselineBytes: Int? = nil) {
    self.init(directory: checkpoint.directory, network: checkpoint.model, preprocessor: checkpoint.preprocessor, weights: checkpoint.weights,
              baselineBytes: baselineBytes)
  }

  /// A Mask2Former checkpoint already open (float32).
  public init(checkpoint: Mask2FormerCheckpoint, baselineBytes: Int? = nil) {
    self.init(directory: checkpoint.directory, network: checkpoint.model, preprocessor: checkpoint.preprocessor, weights: checkpoint.weights,
              baselineBytes: baselineBytes)
  }

  private init(directory: String, network: any SegmentationNetwork, preprocessor: PreprocessorConfig, weights: SafetensorsFile,
               baselineBytes: Int?) {
    path = directory
    self.network = network
    self.preprocessor = preprocessor
    precision = .float32
    mappedWeightBytes = weights.file.byteCount
    heapWeightBytes = weights.entries.values.filter { $0.dtype != "F32" }.reduce(0) { $0 + $1.shape.reduce(1, *) * 4 }
    self.baselineBytes = baselineBytes ?? ProcessMemory.residentNowKB() * 1024
    owner = weights
  }

  /// A model file already open; its model is built (and validated) here.
  public init(file: ModelFile, baselineBytes: Int? = nil) throws {
    try self.init(file: file, network: try file.network(), baselineBytes: baselineBytes ?? ProcessMemory.residentNowKB() * 1024)
  }

  private init(file: ModelFile, network: (any SegmentationNetwork)?, baselineBytes: Int) throws {
    path = file.path
    self.network = try network ?? file.network()
    preprocessor = try file.preprocessor()
    if case .string(let p) = file.value("quant.precision"), let v = ModelPrecision(rawValue: p) {
      precision = v
    } else {
      precision = file.tensors.contains { $0.dtype == .qgemmI8x4N16 } ? .int8 : .float32
    }
    mappedWeightBytes = file.mapping.byteCount
    heapWeightBytes = file.tensors.filter { $0.dtype == .f16 }.reduce(0) { $0 + 2 * $1.byteCount }
    self.baselineBytes = baselineBytes
    owner = file
  }

  /// The same model with the shortest edge resized to `n` instead of the checkpoint's size (the
  /// longest-edge cap scaled alike): `edge-seg run --size N`.
  public func resized(shortestEdge n: Int) -> SegmentationModel {
    var copy = self
    copy.preprocessor = preprocessor.resized(shortestEdge: n)
    return copy
  }

  /// A session for images of `image`'s size (EXIF orientation applied).
  public func session(for image: Image, configuration: SessionConfiguration = SessionConfiguration()) throws(SessionError) -> Session {
    try Session(model: self, imageSize: image.orientedSize, configuration: configuration)
  }

  /// A session for images of `height × width` (as oriented).
  public func session(height: Int, width: Int, configuration: SessionConfiguration = SessionConfiguration()) throws(SessionError) -> Session {
    try Session(model: self, imageSize: (height, width), configuration: configuration)
  }

  /// Segments one image with a session made for it.
  public func segment(_ image: Image, options: SegmentationOptions = .pipeline,
                      configuration: SessionConfiguration = SessionConfiguration()) throws(SessionError) -> SegmentationResult {
    try session(for: image, configuration: configuration).segment(image, options: options)
  }
}
