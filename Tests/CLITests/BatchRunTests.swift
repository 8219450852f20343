// `edge-seg run MODEL IMAGE... | DIR` (issue 19): one process, a folder of outputs per image, the same
// segments as single runs; a bad or missing image reported and skipped, the exit code that of the first
// failure, the other images' outputs whole.
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct BatchRunTests {
  let work: URL
  let model = Fixtures.repository + "/Models/shapes/model.int8.eseg"

  init() throws {
    work = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-batch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
  }

  /// segments.json without what differs between runs (timings) or names the input (image.path).
  func segments(_ dir: String) throws -> [String: Data] {
    let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/segments.json"))
    var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    object["timings_ms"] = nil
    var image = try #require(object["image"] as? [String: Any])
    image["path"] = nil
    object["image"] = image
    var files = ["segments": try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])]
    for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".png") {
      files[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
    }
    return files
  }

  @Test func batchEqualsSingleRunsAndSkipsBadImages() throws {
    defer { try? FileManager.default.removeItem(at: work) }
    let examples = Fixtures.repository + "/Examples"
    let folder = work.appendingPathComponent("in").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: examples + "/shapes-3.png", toPath: folder + "/a.png")
    _ = FileManager.default.createFile(atPath: folder + "/broken.png", contents: Data("not an image".utf8))
    _ = FileManager.default.createFile(atPath: folder + "/notes.txt", contents: Data("skipped: not an image extension".utf8))
    let out = work.appendingPathComponent("batch").path
    let r = try Products.capture("edge-seg", ["run", model, examples + "/shapes-1.png", examples + "/shapes-2.png", folder,
                                              work.appendingPathComponent("missing.png").path, "--output", out, "--json", "--threads", "2"])
    #expect(r.status == 65, "first failure is the broken image (65): \(r.stderr)")
    #expect(r.stderr.contains("broken.png"), "\(r.stderr)")
    #expect(r.stderr.contains("missing.png: no such file"), "\(r.stderr)")
    #expect(r.stderr.contains("3 of 5 images segmented, 2 failed"), "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 3, "one JSON line per segmented image: \(r.stdout)")
    for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)") }
    let made = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
    #expect(made == ["a", "shapes-1", "shapes-2"], "a folder per whole image, none for the failures: \(made)")
    for (name, image) in [("shapes-1", examples + "/shapes-1.png"), ("shapes-2", examples + "/shapes-2.png"), ("a", folder + "/a.png")] {
      let single = work.appendingPathComponent("single-" + name).path
      let s = try Products.run("edge-seg", ["run", model, image, "--output", single, "--threads", "2"])
      #expect(s.status == 0, "\(s.stderr)")
      #expect(try segments(out + "/" + name) == segments(single), "\(name): batch and single run differ")
    }
  }

  @Test func emptyFolderIsAnError() throws {
    defer { try? FileManager.default.removeItem(at: work) }
    let r = try Products.run("edge-seg", ["run", model, work.path, "--output", work.appendingPathComponent("o").path])
    #expect(r.status == 66, "\(r.stderr)")
    #expect(r.stderr.contains("no image files"), "\(r.stderr)")
  }
}
