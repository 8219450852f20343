// Checkpoint: a Hugging Face MaskFormer checkpoint folder (config.json, model.safetensors,
// preprocessor_config.json) opened as a float32 model whose weights stay in the file mapping.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MaskFormerInt8

public struct Checkpoint {
  public let directory: String
  public let config: MaskFormerConfig
  public let preprocessor: PreprocessorConfig
  public let weights: SafetensorsFile
  public let model: MaskFormer
  /// The tensors the model read, in graph order (MaskFormerBuilder's requests): the converter's plan.
  public let requests: [TensorRequest]

  /// Opens `directory`; errors name the file and the field or tensor at fault.
  public init(directory: String) throws {
    let type = (try? FileManager.default.attributesOfItem(atPath: directory))?[.type] as? FileAttributeType
    guard type == .typeDirectory else {
      throw CheckpointError.unreadable(path: directory, reason: "not a directory (expected a checkpoint folder with config.json and model.safetensors)")
    }
    let dir = URL(fileURLWithPath: directory)
    self.directory = directory
    config = try HFConfig.maskFormer(path: dir.appendingPathComponent("config.json").path)
    let pre = dir.appendingPathComponent("preprocessor_config.json").path
    preprocessor = FileManager.default.fileExists(atPath: pre) ? try HFConfig.preprocessor(path: pre) : PreprocessorConfig()
    weights = try SafetensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
    let recording = RecordingSource(weights)
    model = try MaskFormerBuilder(source: recording, config: config).model()
    requests = recording.requests
  }
}
