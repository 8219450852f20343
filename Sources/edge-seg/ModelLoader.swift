// ModelLoader: MODEL is either an edge-seg model file (int8, float16 or float32, memory-mapped) or a
// Hugging Face checkpoint folder (float32).
import Converter
import Foundation
import MaskFormerInt8

struct LoadedModel {
  var model: MaskFormer
  var preprocessor: PreprocessorConfig
  var precision: String
  /// Keeps the mapping alive.
  var owner: AnyObject

  /// Bytes of weights the model reads (the file or the checkpoint's tensors).
  var weightBytes: Int {
    if let f = owner as? ModelFile { return f.mapping.byteCount }
    if let w = owner as? SafetensorsFile { return w.file.byteCount }
    return 0
  }

  /// `--size N`: the shortest edge is resized to N instead of the checkpoint's size.
  mutating func applySize(_ opts: OptionParser) throws {
    guard let size = opts.value("--size") else { return }
    guard let n = Int(size), (32...16384).contains(n) else { throw UsageError(description: "--size must be an integer in 32...16384, got '\(size)'") }
    preprocessor = preprocessor.resized(shortestEdge: n)
  }
}

enum ModelLoader {
  static func load(_ path: String) throws -> LoadedModel {
    let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    if type == .typeDirectory {
      let c = try Checkpoint(directory: path)
      return LoadedModel(model: c.model, preprocessor: c.preprocessor, precision: "float32", owner: c.weights)
    }
    let f = try ModelFile(path: path)
    var precision = "?"
    if case .string(let p) = f.value("quant.precision") { precision = p }
    return LoadedModel(model: try f.model(), preprocessor: try f.preprocessor(), precision: precision, owner: f)
  }
}
