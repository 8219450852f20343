// Reading checkpoint folders: both config spellings, both preprocessor spellings, F16/BF16, and a
// clear refusal (field or tensor, expected vs found) of everything edge-seg does not implement.
import Foundation
import Converter
import MaskFormerInt8
import Testing
import _TestSupport

/// A scratch copy of a fixture checkpoint whose config.json can be edited.
struct ScratchCheckpoint {
  let dir: String

  init(from fixture: String, editing edit: (inout [String: Any]) -> Void) throws {
    dir = NSTemporaryDirectory() + "edge-seg-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for f in ["model.safetensors", "preprocessor_config.json"] {
      try FileManager.default.copyItem(atPath: Fixtures.path(fixture, f), toPath: dir + "/" + f)
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(fixture, "config.json")))
    var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    edit(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/config.json"))
  }

  func remove() { try? FileManager.default.removeItem(atPath: dir) }

  /// The error text of opening this checkpoint, or nil if it opened.
  func openError() -> String? {
    defer { remove() }
    do {
      _ = try Checkpoint(directory: dir)
      return nil
    } catch {
      return "\(error)"
    }
  }
}

func editBackbone(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
  { json in
    var b = json["backbone_config"] as! [String: Any]
    b[key] = value
    json["backbone_config"] = b
  }
}

func editDecoder(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
  { json in
    var d = json["decoder_config"] as! [String: Any]
    d[key] = value
    json["decoder_config"] = d
  }
}

@Suite struct CheckpointTests {
  @Test func readsBothModelTypesAndPreprocessorSpellings() throws {
    let v5 = try Checkpoint(directory: Fixtures.path("tiny"))          // "maskformer-swin", v5 size dict
    let legacy = try Checkpoint(directory: Fixtures.path("smallmaps"))  // "swin", size + max_size
    #expect(v5.preprocessor.size == .shortestEdge(512, longestEdge: 2048))
    #expect(legacy.preprocessor.size == .shortestEdge(512, longestEdge: 2048))
    #expect(v5.preprocessor.sizeDivisor == 32 && legacy.preprocessor.sizeDivisor == 32)
    #expect(v5.config.swin.windowSize == 4 && legacy.config.swin.windowSize == 7)
    #expect(v5.config.numLabels == 5 && legacy.config.numLabels == 7)
    #expect(legacy.config.labels[6] == "class_6")
  }

  @Test func readsHalfPrecisionTensors() throws {
    let mixed = try Checkpoint(directory: Fixtures.path("labels"))
    let dtypes = Set(mixed.weights.entries.values.map(\.dtype))
    #expect(dtypes.isSuperset(of: ["F16", "BF16", "F32"]), "the labels fixture must mix float dtypes, has \(dtypes)")
    #expect(mixed.config.swin.hiddenAct == .relu && mixed.config.detr.activation == .gelu)
  }

  @Test func halfToFloatIsExact() {
    let cases: [(UInt16, Float)] = [(0x3C00, 1), (0xC000, -2), (0x0001, 0x1p-24), (0x7BFF, 65504), (0x7C00, .infinity),
                                    (0x8000, -0.0), (0x3555, 0.333251953125)]
    for (h, f) in cases { #expect(SafetensorsFile.halfToFloat(h) == f, "0x\(String(h, radix: 16))") }
    #expect(SafetensorsFile.halfToFloat(0x7E00).isNaN)
  }

  struct Refusal: CustomTestStringConvertible, Sendable {
    var name: String
    var fixture = "tiny"
    var mustMention: [String]
    var testDescription: String { name }
  }

  static let refusals: [(Refusal, @Sendable (inout [String: Any]) -> Void)] = [
    (Refusal(name: "ResNet backbone", mustMention: ["backbone_config.model_type", "\"resnet\""]), { json in editBackbone("model_type", "resnet")(&json) }),
    (Refusal(name: "absolute position embeddings", mustMention: ["use_absolute_embeddings", "true", "false"]),
     { json in editBackbone("use_absolute_embeddings", true)(&json) }),
    (Refusal(name: "decoder auxiliary loss", mustMention: ["decoder_config.auxiliary_loss", "true"]), { json in editDecoder("auxiliary_loss", true)(&json) }),
    (Refusal(name: "top-level auxiliary loss", mustMention: ["use_auxiliary_loss"]), { json in json["use_auxiliary_loss"] = true }),
    (Refusal(name: "unknown Swin activation", mustMention: ["hidden_act", "\"swish\""]), { json in editBackbone("hidden_act", "swish")(&json) }),
    (Refusal(name: "unknown decoder activation", mustMention: ["activation_function", "\"silu\""]), { json in editDecoder("activation_function", "silu")(&json) }),
    (Refusal(name: "missing tensor", mustMention: ["missing tensor", "layers.2.blocks.2"]), { json in editBackbone("depths", [2, 2, 3, 2])(&json) }),
    (Refusal(name: "mis-shaped tensor", mustMention: ["patch_embeddings.projection.weight", "[8, 3, 4, 4]", "[12, 3, 4, 4]"]),
     { json in editBackbone("embed_dim", 12)(&json); editBackbone("num_heads", [1, 1, 1, 1])(&json) }),
    (Refusal(name: "one stage", mustMention: ["backbone_config.depths", "2 to 6 stages"]),
     { json in editBackbone("depths", [2])(&json); editBackbone("num_heads", [1])(&json) }),
    (Refusal(name: "heads per stage", mustMention: ["backbone_config.num_heads", "4 entries"]), { json in editBackbone("num_heads", [1, 2, 2])(&json) }),
    (Refusal(name: "a subset of stages out", mustMention: ["backbone_config.out_features", "stage4"]),
     { json in editBackbone("out_features", ["stage2", "stage3", "stage4"])(&json) }),
    (Refusal(name: "wrong label count", mustMention: ["class_predictor.weight", "[7, 64]", "[6, 64]"]),
     { json in json["id2label"] = Dictionary(uniqueKeysWithValues: (0..<6).map { ("\($0)", "c\($0)") }) }),
  ]

  @Test(arguments: refusals.indices)
  func refusesUnsupportedCheckpoints(_ i: Int) throws {
    let (refusal, edit) = Self.refusals[i]
    let message = try #require(try ScratchCheckpoint(from: refusal.fixture, editing: edit).openError(),
                               "\(refusal.name) was accepted")
    for needle in refusal.mustMention {
      #expect(message.contains(needle), "\(refusal.name): '\(message)' does not mention \(needle)")
    }
    #expect(message.contains("config.json") || message.contains("model.safetensors"), "names the file: \(message)")
  }

  @Test func malformedSafetensorsAreErrorsNotCrashes() throws {
    let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny", "golden.safetensors")))
    let path = NSTemporaryDirectory() + "edge-seg-bad-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    var variants: [Data] = [Data(), good.prefix(4), good.prefix(8), good.prefix(100), good.prefix(good.count / 2)]
    var huge = good
    huge.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
    variants.append(huge)
    for (i, v) in variants.enumerated() {
      try v.write(to: URL(fileURLWithPath: path))
      #expect(throws: (any Error).self, "variant \(i)") {
        let f = try SafetensorsFile(path: path)
        for name in f.entries.keys { _ = try f.tensor(name) }
      }
    }
  }
}
