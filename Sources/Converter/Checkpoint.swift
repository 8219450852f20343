// Checkpoint: a Hugging Face MaskFormer checkpoint folder (config.json, model.safetensors,
// preprocessor_config.json) opened as a float32 model whose weights stay in the file mapping.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MaskFormerInt8

/// A checkpoint folder the converter can turn into a model file: its float network, the tensors the network
/// read (in graph order: the model file's tensor list) and its configuration as model-file metadata.
public protocol ConvertibleCheckpoint {
  var directory: String { get }
  var preprocessor: PreprocessorConfig { get }
  var weights: SafetensorsFile { get }
  var requests: [TensorRequest] { get }
  var network: any SegmentationNetwork { get }
  /// The configuration and preprocessing as model-file metadata records.
  var modelMetadata: [(String, MetadataValue)] { get }
  /// Layers the family keeps float by default (`PrecisionPolicy`).
  static var defaultKeepFloat: [String] { get }
}

public struct Checkpoint: ConvertibleCheckpoint {
  public let directory: String
  public let config: MaskFormerConfig
  public let preprocessor: PreprocessorConfig
  public let weights: SafetensorsFile
  public let model: MaskFormer
  /// The tensors the model read, in graph order (MaskFormerBuilder's requests): the converter's plan.
  public let requests: [TensorRequest]

  /// Opens `directory`; errors name the file and the field or tensor at fault.
  public init(directory: String) throws {
    self.directory = directory
    (config, preprocessor, weights, model, requests) = try CheckpointFolder(directory).open(config: { try HFConfig.maskFormer(path: $0) }) {
      try MaskFormerBuilder(source: $1, config: $0).model()
    }
  }

  public var network: any SegmentationNetwork { model }
  public var modelMetadata: [(String, MetadataValue)] { MetadataWriter.records { MetadataWriter.model(&$0, config, preprocessor) } }

  /// Published practice for Swin (LayerNorm, softmax, the residual stream, the relative position bias and the
  /// mask einsum stay float; every Linear/Conv is int8) with three cheap exceptions kept float until the drift
  /// tool measures them: the patch embedding (its input is the normalized image; 0.15 % of the MACs) and the
  /// class and mask heads.
  public static let defaultKeepFloat = ["*.embeddings.patch_embeddings.projection", "class_predictor", "mask_embedder.*"]

  /// The model family of the checkpoint folder at `directory` (config.json's `model_type`).
  public static func modelType(directory: String) throws -> String {
    try HFConfig.modelType(path: try CheckpointFolder(directory).config)
  }
}

/// A Hugging Face Mask2Former checkpoint folder (model_type "mask2former"), opened as a float32 model whose
/// weights stay in the file mapping (issue 21).
public struct Mask2FormerCheckpoint: ConvertibleCheckpoint {
  public let directory: String
  public let config: Mask2FormerConfig
  public let preprocessor: PreprocessorConfig
  public let weights: SafetensorsFile
  public let model: Mask2Former
  /// The tensors the model read, in graph order.
  public let requests: [TensorRequest]

  public init(directory: String) throws {
    self.directory = directory
    (config, preprocessor, weights, model, requests) = try CheckpointFolder(directory).open(config: { try HFConfig.mask2Former(path: $0) }) {
      try Mask2Former(config: $0, from: $1)
    }
  }

  public var network: any SegmentationNetwork { model }
  public var modelMetadata: [(String, MetadataValue)] { MetadataWriter.records { MetadataWriter.model(&$0, config, preprocessor) } }

  /// MaskFormer's, plus the deformable attention's sampling offsets (small; an error in them moves every
  /// sampling point: mask2former-spec.md §7.2).
  public static let defaultKeepFloat = ["*.embeddings.patch_embeddings.projection", "class_predictor", "*.mask_embedder.*",
                                        "*.sampling_offsets"]
}

/// Opens a checkpoint folder of either family (config.json's `model_type`: "mask2former", else MaskFormer).
public func openCheckpoint(directory: String) throws -> any ConvertibleCheckpoint {
  if try Checkpoint.modelType(directory: directory) == "mask2former" { return try Mask2FormerCheckpoint(directory: directory) }
  return try Checkpoint(directory: directory)
}

/// The files of a checkpoint folder: config.json, model.safetensors, and preprocessor_config.json when present.
struct CheckpointFolder {
  let directory: URL

  init(_ path: String) throws(CheckpointError) {
    let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    guard type == .typeDirectory else {
      throw CheckpointError.unreadable(path: path, reason: "not a directory (expected a checkpoint folder with config.json and model.safetensors)")
    }
    directory = URL(fileURLWithPath: path)
  }

  var config: String { directory.appendingPathComponent("config.json").path }

  func preprocessor() throws(CheckpointError) -> PreprocessorConfig {
    let pre = directory.appendingPathComponent("preprocessor_config.json").path
    return FileManager.default.fileExists(atPath: pre) ? try HFConfig.preprocessor(path: pre) : PreprocessorConfig()
  }

  func weights() throws -> SafetensorsFile { try SafetensorsFile(path: directory.appendingPathComponent("model.safetensors").path) }

  /// The configuration (read from config.json's path), preprocessing and weights, and the model built from them
  /// through a recording source, with the requests it made (in graph order: the converter's tensor plan).
  func open<Config, Model>(config read: (String) throws -> Config, model build: (Config, RecordingSource) throws -> Model) throws
    -> (Config, PreprocessorConfig, SafetensorsFile, Model, [TensorRequest]) {
    let config = try read(self.config), preprocessor = try preprocessor(), weights = try weights()
    let recording = RecordingSource(weights)
    let model = try build(config, recording)
    return (config, preprocessor, weights, model, recording.requests)
  }
}
