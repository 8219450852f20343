// Peak memory against input size (issue 6), as the OS reports it: the bundled int8 model runs in
// subprocesses at two preprocessing sizes (16x the pixels), whole maps and streamed, and each child's
// peak RSS (ru_maxrss from wait4, the kernel's VmHWM) is compared. Streamed, the peak grows by less
// than two float copies of the input image per added pixel (24 bytes: the pre-processing's own
// buffers); whole maps grow several times faster.
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct MemoryScalingTests {
  /// Peak RSS (KiB) of one `edge-seg` child, from wait4's rusage (spawned directly: Foundation's
  /// Process reaps its children on a thread of its own, which would race wait4).
  static func peakKB(_ args: [String]) throws -> (status: Int32, kb: Int) {
    #if os(Linux)
    let argv = ([Products.path("edge-seg")] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0]!, &actions, nil, argv, environ) == 0 else { return (-1, 0) }
    var status: Int32 = 0
    var usage = rusage()
    guard wait4(pid, &status, 0, &usage) == pid else { return (-1, 0) }
    return ((status >> 8) & 0xff, Int(usage.ru_maxrss))   // KiB on Linux
    #else
    return (-1, 0)
    #endif
  }

  @Test func peakGrowsSlowerThanTheImage() throws {
    #if !os(Linux)
    return
    #else
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-mem-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let model = Fixtures.repository + "/Models/shapes/model.int8.eseg"
    let image = Fixtures.repository + "/Examples/shapes-1.png"
    func peak(size: Int, streamed: Bool) throws -> Double {
      let tiling = streamed ? ["--token-chunk", "1024", "--band-rows", "8"] : ["--token-chunk", "0", "--band-rows", "0"]
      let r = try Self.peakKB(["run", model, image, "--size", "\(size)", "--threads", "2", "--output", out] + tiling)
      #expect(r.status == 0, "edge-seg run --size \(size) exited \(r.status)")
      return Double(r.kb) * 1024
    }
    let pixels = Double(1024 * 1024 - 256 * 256)
    let streamed = (try peak(size: 1024, streamed: true) - (try peak(size: 256, streamed: true))) / pixels
    let whole = (try peak(size: 1024, streamed: false) - (try peak(size: 256, streamed: false))) / pixels
    print("peak RSS growth per input pixel: streamed \(streamed) bytes, whole maps \(whole) bytes")
    // Measured here: streamed ~16 B/px, whole maps ~57 B/px.
    #expect(streamed <= 24, "streamed peak grows \(streamed) bytes per pixel")
    #expect(whole >= 2 * streamed, "whole maps \(whole) vs streamed \(streamed) bytes per pixel: streaming should matter")
    #endif
  }

  /// A budget below what the input needs is refused before any work, with exit 64 and no output.
  @Test func unmeetableBudgetIsRefused() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-mem-refuse-\(getpid())").path
    let model = Fixtures.repository + "/Models/shapes/model.int8.eseg"
    let image = Fixtures.repository + "/Examples/shapes-1.png"
    let r = try Products.run("edge-seg", ["run", model, image, "--size", "1024", "--max-memory", "30M", "--output", out])
    #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains("--max-memory 30M cannot be met"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
    let bad = try Products.run("edge-seg", ["run", model, image, "--max-memory", "lots", "--output", out])
    #expect(bad.status == 64 && bad.stderr.contains("--max-memory takes a size"), "\(bad.stderr)")
  }
}
