// Mask2Former checkpoint configs (issue 21, deliverable 1): the committed fixtures read as transformers
// wrote them, and every unsupported setting is refused naming the file, the field and the expected value.
import Foundation
import Converter
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct Mask2FormerConfigTests {
  static let tiny = Fixtures.path("mask2former/tiny", "config.json")

  @Test func readsTheFixtures() throws {
    let t = try HFConfig.mask2Former(path: Self.tiny)
    #expect(t.swin == SwinConfig(embedDim: 16, depths: [1, 1, 2, 1], numHeads: [1, 2, 2, 4], windowSize: 12))
    #expect(t.hiddenDim == 32 && t.heads == 4 && t.numQueries == 10 && t.numLabels == 5)
    #expect(t.encoderLayers == 2 && t.encoderFeedforward == 64 && t.decoderLayers == 3 && t.decoderFeedforward == 64)
    #expect(t.activation == .relu && t.labels.first == "class_0")
    let l = try HFConfig.mask2Former(path: Fixtures.path("mask2former/labels", "config.json"))
    #expect(l.numLabels == 21 && l.swin.hiddenAct == .relu && l.swin.windowSize == 7 && l.numQueries == 9)
    #expect(l.encoderLayers == 3 && l.decoderLayers == 4 && l.decoderFeedforward == 48)
    // The MaskFormer reader refuses a Mask2Former checkpoint by its model_type, and the other way round.
    #expect(throws: CheckpointError.unsupported(path: Self.tiny, field: "model_type", expected: "\"maskformer\"", found: "\"mask2former\"")) {
      try HFConfig.maskFormer(path: Self.tiny)
    }
    let maskFormer = Fixtures.path("tiny", "config.json")
    #expect(throws: CheckpointError.unsupported(path: maskFormer, field: "model_type", expected: "\"mask2former\"", found: "\"maskformer\"")) {
      try HFConfig.mask2Former(path: maskFormer)
    }
  }

  /// (edit of config.json as key=JSON value, the field the refusal must name).
  static let refusals: [(String, String)] = [
    ("backbone_config.model_type=\"resnet\"", "backbone_config.model_type"),
    ("backbone_config.model_type=\"maskformer-swin\"", "backbone_config.model_type"),
    ("backbone_config.use_absolute_embeddings=true", "backbone_config.use_absolute_embeddings"),
    ("backbone_config.depths=[1,1,2]", "backbone_config.num_heads"),
    ("pre_norm=true", "pre_norm"),
    ("enforce_input_projection=true", "enforce_input_projection"),
    ("common_stride=8", "common_stride"),
    ("feature_size=64", "feature_size"),
    ("mask_feature_size=16", "mask_feature_size"),
    ("num_attention_heads=5", "num_attention_heads"),
    ("decoder_layers=0", "decoder_layers"),
    ("activation_function=\"tanh\"", "activation_function"),
    ("num_queries=0", "num_queries"),
    ("id2label={}", "id2label"),
  ]

  @Test(arguments: refusals.map(\.0))
  func refusesUnsupportedSettings(_ edit: String) throws {
    let field = Self.refusals.first { $0.0 == edit }!.1
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.tiny))) as! [String: Any]
    let (key, value) = (String(edit.split(separator: "=")[0]), String(edit.split(separator: "=", maxSplits: 1)[1]))
    let parsed = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
    if key.hasPrefix("backbone_config.") {
      var b = json["backbone_config"] as! [String: Any]
      b[String(key.dropFirst("backbone_config.".count))] = parsed
      json["backbone_config"] = b
    } else {
      json[key] = parsed
    }
    let data = try JSONSerialization.data(withJSONObject: json)
    do {
      _ = try HFConfig.mask2Former(path: "edited/config.json", contents: data)
      Issue.record("\(edit) was accepted")
    } catch .unsupported(let path, let f, _, _) {
      #expect(path == "edited/config.json" && f == field, "\(edit): refused naming \(f)")
    } catch {
      Issue.record("\(edit): \(error)")
    }
  }
}
