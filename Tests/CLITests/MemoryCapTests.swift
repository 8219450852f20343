// Memory caps (issue 20): under a memory limit the kernel enforces (a cgroup v1 memory controller here,
// where this process may make one), a run that fits the limit completes and one that cannot is refused
// up front with exit 64, before it decodes the image, instead of being killed. Skipped, with a message,
// where no cgroup can be made (not root, no writable memory controller).
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct MemoryCapTests {
  /// A fresh cgroup v1 memory group with `limit` bytes, or nil.
  func makeGroup(_ limit: Int) -> String? {
    let root = "/sys/fs/cgroup/memory"
    guard FileManager.default.fileExists(atPath: root + "/memory.limit_in_bytes") else { return nil }
    let dir = root + "/edge-seg-test-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    guard (try? "\(limit)".write(toFile: dir + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)) != nil else { return nil }
    return dir
  }

  func failures(_ dir: String) -> Int { Int((try? String(contentsOfFile: dir + "/memory.failcnt", encoding: .utf8))?.filter(\.isNumber) ?? "") ?? -1 }

  /// edge-seg run inside the group: (status, stderr).
  func runIn(_ dir: String, _ args: [String]) throws -> (Int32, String) {
    let quoted = ([Products.path("edge-seg")] + args).map { "'\($0)'" }.joined(separator: " ")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "echo $$ > \(dir)/cgroup.procs && exec \(quoted)"]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus, String(decoding: e, as: UTF8.self))
  }

  @Test func fitsOrIsRefusedUpFront() throws {
    guard let group = makeGroup(200 << 20) else {
      print("MemoryCapTests: skipped: cannot make a cgroup v1 memory group here (not root, or no memory controller)")
      return
    }
    defer { try? FileManager.default.removeItem(atPath: group) }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-cap-\(getpid())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    // A 2048x2048 photo-sized image (binary PPM): the bundled model peaks near 95 MB on it.
    let n = 2048
    var ppm = Data("P6\n\(n) \(n)\n255\n".utf8)
    ppm.append(contentsOf: (0..<(3 * n * n)).map { UInt8(truncatingIfNeeded: ($0 / 3 % n) / 64 * 37 + ($0 / (3 * n)) / 64 * 11) })
    let image = work.appendingPathComponent("big.ppm").path
    try ppm.write(to: URL(fileURLWithPath: image))
    let model = Fixtures.repository + "/Models/shapes/model.int8.eseg"
    let before = failures(group)
    let (ok, okErr) = try runIn(group, ["run", model, image, "--output", work.appendingPathComponent("o1").path, "--threads", "2"])
    #expect(ok == 0, "under a 200 MiB limit the run fits: exit \(ok), \(okErr)")
    #expect(failures(group) == before, "the kernel refused allocations (memory.failcnt rose)")
    try "\(30 << 20)".write(toFile: group + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)
    let (refused, msg) = try runIn(group, ["run", model, image, "--output", work.appendingPathComponent("o2").path, "--threads", "2"])
    #expect(refused == 64, "under 30 MiB: refused with 64, not killed (137): exit \(refused), \(msg)")
    #expect(msg.contains("memory limit") && msg.contains("30 MiB"), "\(msg)")
    #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("o2").path), "no output from a refused run")
  }
}
