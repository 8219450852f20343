// Faults (issue 20): a model file replaced by rename while a process has it mapped does not disturb that
// process (it keeps the old file's pages); the frames it segments after the replacement equal those of an
// undisturbed run. (A file truncated in place under a running process is a different matter: README,
// "Faults", says what happens.)
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct ReplacedModelTests {
  @Test func renameOverAMappedModel() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-replace-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("model.eseg").path, other = dir.appendingPathComponent("other.eseg").path
    try FileManager.default.copyItem(atPath: Fixtures.repository + "/Models/shapes/model.int8.eseg", toPath: model)
    // The replacement: a different file (float16) of the same model.
    #expect(try Products.run("edge-seg", ["convert", Fixtures.repository + "/Models/shapes", "-o", other, "--precision", "float16"]).status == 0)
    let (w, h) = (64, 48), frameBytes = w * h * 3
    var frames = Data()
    for f in 0..<6 { frames.append(contentsOf: (0..<frameBytes).map { UInt8(truncatingIfNeeded: $0 / 3 % w * 4 + f * 40 + ($0 % 3) * 60) }) }
    func run(replaceAfter: Int?) throws -> [Substring] {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: Products.path("edge-seg"))
      p.arguments = ["run", model, "--frames", "\(w)x\(h)", "-", "--threads", "2"]
      let i = Pipe(), o = Pipe()
      p.standardInput = i; p.standardOutput = o; p.standardError = FileHandle.nullDevice
      try p.run()
      nonisolated(unsafe) var out = Data()
      let reader = Thread { out = o.fileHandleForReading.readDataToEndOfFile() }
      reader.start()
      for f in 0..<6 {
        if f == replaceAfter {
          usleep(300_000)   // the frames so far segmented with the mapping in use
          #expect(rename(other, model) == 0, "rename over the mapped model")
        }
        try i.fileHandleForWriting.write(contentsOf: frames[(f * frameBytes)..<((f + 1) * frameBytes)])
      }
      try i.fileHandleForWriting.close()
      p.waitUntilExit()
      while !reader.isFinished { usleep(1000) }
      #expect(p.terminationStatus == 0)
      return String(decoding: out, as: UTF8.self).split(separator: "\n").map { $0.replacing(/"model_ms":[0-9.]+,/, with: "") }
    }
    let undisturbed = try run(replaceAfter: nil)
    let replaced = try run(replaceAfter: 3)
    #expect(undisturbed.count == 6 && replaced == undisturbed, "frames after the rename differ from an undisturbed run")
  }
}
