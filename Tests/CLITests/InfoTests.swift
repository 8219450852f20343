// `edge-seg info` (issue 19): a model file's and a checkpoint folder's contents, as text and as JSON
// whose fields are checked against what the files hold.
import Foundation
import Testing
import _TestSupport

@Suite struct InfoTests {
  func json(_ path: String) throws -> [String: Any] {
    let r = try Products.capture("edge-seg", ["info", path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
  }

  @Test func int8FileAndCheckpointFolder() throws {
    let file = try json(Fixtures.repository + "/Models/shapes/model.int8.eseg")
    #expect(file["precision"] as? String == "int8")
    #expect((file["labels"] as? [String])?.count == 7)
    #expect((file["decoder"] as? [String: Any])?["num_queries"] as? Int == 10)
    #expect(file["tensors"] as? Int == 146, "the bundled file's tensor count (edge-seg verify says 146)")
    let layers = try #require(file["layers"] as? [[String: Any]])
    let int8Kinds = layers.filter { $0["precision"] as? String == "int8" }.map { $0["kind"] as! String }
    #expect(int8Kinds.contains { $0.hasSuffix("attention.self.query") }, "q projections are int8: \(int8Kinds)")
    #expect(layers.contains { $0["kind"] as? String == "class_predictor" && $0["precision"] as? String == "float32" }, "the class head is kept float")
    let calibration = try #require(file["calibration"] as? [String: Any])
    #expect(calibration["images"] as? Int == 8 && (calibration["method"] as? String)?.isEmpty == false)
    let folder = try json(Fixtures.repository + "/Models/shapes")
    #expect(folder["format"] as? String == "Hugging Face checkpoint folder")
    #expect(folder["calibration"] == nil || folder["calibration"] is NSNull)
    #expect((folder["labels"] as? [String]) == (file["labels"] as? [String]))
    let text = try Products.capture("edge-seg", ["info", Fixtures.repository + "/Models/shapes/model.int8.eseg"])
    #expect(text.status == 0 && text.stdout.contains("labels (7): circle") && text.stdout.contains("calibration: "), "\(text.stdout)")
  }

  /// Mask2Former (issue 21): its checkpoint folder and an int8 file converted from it (which `verify` accepts and
  /// `drift` and `eval` measure against the folder).
  @Test func mask2FormerFileAndFolder() throws {
    let folder = try json(Fixtures.path("mask2former/tiny"))
    #expect(folder["architecture"] as? String == "Mask2FormerForUniversalSegmentation/swin")
    let m2f = try #require(folder["mask2former"] as? [String: Any])
    #expect(m2f["num_queries"] as? Int == 10 && m2f["encoder_layers"] as? Int == 2 && m2f["hidden_dim"] as? Int == 32)
    #expect(folder["decoder"] == nil, "no DETR decoder")
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-info-m2f-\(getpid()).eseg").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let c = try Products.run("edge-seg", ["convert", Fixtures.path("mask2former/tiny"), "-o", path, "--samples", "1",
                                          "--calibration", Fixtures.repository + "/Calibration"])
    #expect(c.status == 0, "\(c.stderr)")
    let file = try json(path)
    #expect(file["precision"] as? String == "int8" && (file["labels"] as? [String]) == (folder["labels"] as? [String]))
    let layers = try #require(file["layers"] as? [[String: Any]])
    #expect(layers.contains { ($0["kind"] as? String)?.hasSuffix("sampling_offsets") == true && $0["precision"] as? String == "float32" },
            "sampling offsets kept float: \(layers)")
    #expect(layers.contains { ($0["kind"] as? String)?.hasSuffix("cross_attn.q_proj") == true && $0["precision"] as? String == "int8" })
    let v = try Products.run("edge-seg", ["verify", path])
    #expect(v.status == 0, "verify: \(v.stderr)")
    // `drift` against the float folder: every layer of the new blocks in the report, then the end-to-end figures.
    let d = try Products.capture("edge-seg", ["drift", path, "--reference", Fixtures.path("mask2former/tiny"),
                                              Fixtures.path("jpeg", "s120x77_q90_sub2_base.jpg")])
    #expect(d.status == 0 && d.stdout.contains("encoder.layers.1.self_attn.value_proj") && d.stdout.contains("cross_attn.k_proj")
            && d.stdout.contains("end to end"), "drift: \(d.stderr)\n\(d.stdout)")
    // `eval` scores both on a panoptic dataset, each with Mask2Former's post-processing.
    let e = try Products.capture("edge-seg", ["eval", Fixtures.path("mask2former/tiny"), Fixtures.path("shapes-val"), "--int8", path,
                                              "--limit", "2", "--json"])
    #expect(e.status == 0 && e.stdout.contains("\"pq\"") && e.stdout.contains("int8"), "eval: \(e.stderr)\n\(e.stdout)")
    let mixed = try Products.run("edge-seg", ["drift", path, "--reference", Fixtures.path("tiny"), Fixtures.path("jpeg", "s120x77_q90_sub2_base.jpg")])
    #expect(mixed.status == 64, "a MaskFormer reference for a Mask2Former file: \(mixed.stderr)")
    let text = try Products.capture("edge-seg", ["info", path])
    #expect(text.status == 0 && text.stdout.contains("deformable-attention layers") && text.stdout.contains("masked attention"), "\(text.stdout)")
  }

  @Test func notAModel() throws {
    let r = try Products.run("edge-seg", ["info", Fixtures.repository + "/README.md"])
    #expect(r.status == 65 && r.stderr.contains("README.md"), "\(r.status) \(r.stderr)")
    let m = try Products.run("edge-seg", ["info", "/nonexistent/model.eseg"])
    #expect(m.status == 66, "\(m.status) \(m.stderr)")
  }
}
