// Faults (issue 20): `convert` killed with SIGKILL at 24 points of its run never leaves a partial or
// corrupt file at the output path: the path holds either the previous file, intact, or the new one,
// whole (the model file is written under a temporary name, synced, and renamed into place in one step).
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct KillTests {
  @Test func convertKilledAnywhereLeavesThePreviousOrTheNewFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-kill-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("model.eseg").path, checkpoint = Fixtures.repository + "/Models/shapes"
    let exe = Products.path("edge-seg")
    // The previous file: float16. The runs that get killed write int8 (same input, same bytes each time).
    #expect(try Products.run("edge-seg", ["convert", checkpoint, "-o", out, "--precision", "float16"]).status == 0)
    let previous = try Data(contentsOf: URL(fileURLWithPath: out))
    let newPath = dir.appendingPathComponent("new.eseg").path
    let t0 = Date()
    #expect(try Products.run("edge-seg", ["convert", checkpoint, "-o", newPath]).status == 0)
    let whole = Date().timeIntervalSince(t0), fresh = try Data(contentsOf: URL(fileURLWithPath: newPath))
    var outcomes: [String: Int] = [:]
    for k in 0..<24 {
      // Kill points spread over the whole run (from at once to past its end), the last ones after the rename.
      let delay = whole * Double(k) / 20
      let p = Process()
      p.executableURL = URL(fileURLWithPath: exe)
      p.arguments = ["convert", checkpoint, "-o", out]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      usleep(useconds_t(delay * 1e6))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      let now = try Data(contentsOf: URL(fileURLWithPath: out))
      let outcome = now == previous ? "previous" : now == fresh ? "new" : "corrupt"
      outcomes[outcome, default: 0] += 1
      #expect(outcome != "corrupt", "kill \(k) after \(delay) s: \(now.count) bytes at the output path, neither file")
      if outcome == "new" {   // back to the previous file for the next kill point
        try previous.write(to: URL(fileURLWithPath: out))
      }
    }
    print("convert killed at 24 points over \(whole) s: \(outcomes)")
    #expect(outcomes["previous", default: 0] > 0, "no kill landed before the rename: the test did not exercise a partial run")
  }
}
