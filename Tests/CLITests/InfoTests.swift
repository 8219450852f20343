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

  @Test func notAModel() throws {
    let r = try Products.run("edge-seg", ["info", Fixtures.repository + "/README.md"])
    #expect(r.status == 65 && r.stderr.contains("README.md"), "\(r.status) \(r.stderr)")
    let m = try Products.run("edge-seg", ["info", "/nonexistent/model.eseg"])
    #expect(m.status == 66, "\(m.status) \(m.stderr)")
  }
}
