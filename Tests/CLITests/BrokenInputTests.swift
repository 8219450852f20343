// The CLI on broken inputs: each case must exit with its documented code (64 usage, 65 bad input
// data, 66 unreadable file, 73 cannot write output), print one line naming the file, never crash
// (a signal would show as a different status), and leave no output file or directory behind.
import Foundation
import Testing
import _TestSupport

/// The edge-seg and fuzz executables built beside the test bundle.
enum Products {
  static var directory: URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("edge-seg").path) {
      dir = dir.deletingLastPathComponent()
    }
    return dir
  }
  static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  /// Runs a product; returns (exit status, stderr). A crash (signal) returns 128 + signal.
  static func run(_ name: String, _ args: [String]) throws -> (status: Int32, stderr: String) {
    let r = try capture(name, args, stdout: false)
    return (r.status, r.stderr)
  }

  /// Runs a product; returns its exit status (128 + signal for a crash), stdout (when asked) and stderr.
  static func capture(_ name: String, _ args: [String], stdout: Bool = true) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path(name))
    p.arguments = args
    let err = Pipe(), out = Pipe()
    p.standardError = err
    p.standardOutput = stdout ? out : FileHandle.nullDevice
    try p.run()
    // stdout is read on another thread so that neither pipe fills up while the other is drained.
    nonisolated(unsafe) var outData = Data()
    let reader = stdout ? Thread { outData = out.fileHandleForReading.readDataToEndOfFile() } : nil
    reader?.start()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while let r = reader, !r.isFinished { usleep(1000) }
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return (status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
  }
}

@Suite(.serialized) struct BrokenInputTests {
  let work: URL

  init() throws {
    work = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
  }

  func file(_ name: String, _ bytes: [UInt8]) -> String {
    let url = work.appendingPathComponent(name)
    FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url.path
  }

  @Test func brokenImages() throws {
    let model = Fixtures.path("tiny")
    let photo = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.repository + "/Calibration/coffee.png")))
    let jpeg = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg", "exif6.jpg"))))
    var flipped = jpeg
    for i in stride(from: 200, to: flipped.count, by: 37) { flipped[i] ^= 0x5A }
    let cases: [(String, [UInt8], Int32)] = [
      ("empty.png", [], 65),
      ("truncated.png", Array(photo.prefix(photo.count / 2)), 65),
      ("header-only.png", Array(photo.prefix(40)), 65),
      ("flipped.jpg", flipped, 65),
      ("truncated.jpg", Array(jpeg.prefix(jpeg.count * 2 / 3)), 65),
      ("text.png", Array("this is not an image\n".utf8), 65),
      ("huge.png", TestImages.pngHeader(width: 100_000, height: 100_000), 65),
      ("zero.png", TestImages.pngHeader(width: 0, height: 10), 65),
    ]
    for (name, bytes, expected) in cases {
      let input = file(name, bytes)
      let out = work.appendingPathComponent("out-\(name)").path
      let r = try Products.run("edge-seg", ["run", model, input, "--output", out])
      #expect(r.status == expected, "\(name): exit \(r.status), stderr: \(r.stderr)")
      #expect(r.stderr.contains(name), "\(name): the message does not name the file: \(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out), "\(name): left \(out) behind")
    }
  }

  @Test func missingFilesAndUsage() throws {
    let model = Fixtures.path("tiny")
    let out = work.appendingPathComponent("out").path
    let cases: [([String], Int32)] = [
      (["run", model, work.appendingPathComponent("nope.png").path, "--output", out], 66),
      (["run", model, Fixtures.repository + "/Calibration/coffee.png", "--threads", "0", "--output", out], 64),
      (["run", model, Fixtures.repository + "/Calibration/coffee.png", "--task", "everything", "--output", out], 64),
      (["run", model, Fixtures.repository + "/Calibration/coffee.png", "--bogus", "--output", out], 64),
      (["frobnicate"], 64),
      (["convert", work.appendingPathComponent("no-such-dir").path, "-o", out], 65),
      (["verify", work.appendingPathComponent("nope.eseg").path], 66),
    ]
    for (args, expected) in cases {
      let r = try Products.run("edge-seg", args)
      #expect(r.status == expected, "\(args): exit \(r.status), stderr: \(r.stderr)")
      #expect(!r.stderr.isEmpty, "\(args): no message")
      #expect(!FileManager.default.fileExists(atPath: out), "\(args): left \(out) behind")
    }
  }

  @Test func brokenModelFiles() throws {
    let good = work.appendingPathComponent("micro.eseg").path
    let seed = URL(fileURLWithPath: Fixtures.repository + "/fuzz/corpus/modelfile/micro.int8.eseg")
    let bytes = try [UInt8](Data(contentsOf: seed))
    FileManager.default.createFile(atPath: good, contents: Data(bytes))
    let image = Fixtures.path("png", "c2_d8_i0_33x17.png")
    var badMagic = bytes; badMagic[0] = UInt8(ascii: "X")
    var badVersion = bytes; badVersion[4] = 99
    var flippedTensor = bytes; flippedTensor[bytes.count - 100] ^= 0xFF
    var flippedHeader = bytes; flippedHeader[60] ^= 0x10
    let cases: [(String, [UInt8], [Int32])] = [
      ("empty.eseg", [], [65]),
      ("magic.eseg", badMagic, [65]),
      ("version.eseg", badVersion, [65]),
      ("truncated.eseg", Array(bytes.prefix(bytes.count / 2)), [65]),
      ("header.eseg", flippedHeader, [65]),
    ]
    for (name, data, expected) in cases {
      let path = file(name, data)
      let out = work.appendingPathComponent("out-\(name)").path
      let r = try Products.run("edge-seg", ["run", path, image, "--output", out])
      #expect(expected.contains(r.status), "\(name): exit \(r.status), stderr: \(r.stderr)")
      #expect(r.stderr.contains(name), "\(name): the message does not name the file: \(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out), "\(name): left \(out) behind")
    }
    // A flipped weight byte is found by verify (checksums), not by run (which maps weights lazily).
    let v = try Products.run("edge-seg", ["verify", file("tensor.eseg", flippedTensor)])
    #expect(v.status == 65 && v.stderr.contains("checksum"), "verify: exit \(v.status), \(v.stderr)")
    #expect(try Products.run("edge-seg", ["verify", good]).status == 0)
  }

  /// Mask2Former checkpoints and model files (issue 21) go through the same refusals: an unsupported setting,
  /// a tensor the config implies but the file lacks, a truncated safetensors, a truncated model file.
  @Test func brokenMask2FormerInputs() throws {
    let fm = FileManager.default, source = URL(fileURLWithPath: Fixtures.path("mask2former/tiny"))
    let image = Fixtures.path("png", "c2_d8_i0_33x17.png")
    func folder(_ name: String, edit: (URL) throws -> Void) throws -> String {
      let dir = work.appendingPathComponent(name)
      try fm.createDirectory(at: dir, withIntermediateDirectories: true)
      for f in ["config.json", "model.safetensors", "preprocessor_config.json"] {
        try fm.copyItem(at: source.appendingPathComponent(f), to: dir.appendingPathComponent(f))
      }
      try edit(dir)
      return dir.path
    }
    func editConfig(_ dir: URL, _ from: String, _ to: String) throws {
      let url = dir.appendingPathComponent("config.json")
      let text = try String(contentsOf: url, encoding: .utf8)
      #expect(text.contains(from), "fixture config lacks \(from)")
      try text.replacingOccurrences(of: from, with: to).write(to: url, atomically: true, encoding: .utf8)
    }
    let modelFile = work.appendingPathComponent("m2f.eseg").path
    let c = try Products.run("edge-seg", ["convert", source.path, "-o", modelFile, "--precision", "float32"])
    #expect(c.status == 0, "convert: \(c.stderr)")
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: modelFile)))
    let cases: [(String, String, String)] = [
      (try folder("prenorm") { try editConfig($0, "\"pre_norm\": false", "\"pre_norm\": true") }, "pre_norm", "config.json"),
      (try folder("layers") { try editConfig($0, "\"encoder_layers\": 2", "\"encoder_layers\": 3") }, "encoder.layers.2", "model.safetensors"),
      (try folder("truncated") { dir in
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
      }, "", "model.safetensors"),
      (file("m2f-truncated.eseg", Array(bytes.prefix(bytes.count / 2))), "", "m2f-truncated.eseg"),
    ]
    for (model, detail, named) in cases {
      let out = work.appendingPathComponent("out-\(named)-\(detail)").path
      let r = try Products.run("edge-seg", ["run", model, image, "--output", out])
      #expect(r.status == 65, "\(model): exit \(r.status), stderr: \(r.stderr)")
      #expect(r.stderr.contains(named) && (detail.isEmpty || r.stderr.contains(detail)), "\(model): the message does not name \(named) \(detail): \(r.stderr)")
      #expect(!fm.fileExists(atPath: out), "\(model): left \(out) behind")
    }
    // The good file runs.
    #expect(try Products.run("edge-seg", ["run", modelFile, image, "--output", work.appendingPathComponent("out-good").path]).status == 0)
  }

  @Test func unwritableOutput() throws {
    let model = Fixtures.path("tiny")
    let image = Fixtures.path("png", "c2_d8_i0_33x17.png")
    let blocker = file("a-file", [1, 2, 3])
    let r = try Products.run("edge-seg", ["run", model, image, "--output", blocker + "/sub"])
    #expect(r.status == 73, "exit \(r.status), stderr: \(r.stderr)")
    let c = try Products.run("edge-seg", ["convert", model, "-o", blocker + "/x.eseg", "--precision", "float32"])
    #expect(c.status == 73, "convert: exit \(c.status), stderr: \(c.stderr)")
  }

  /// Every committed fuzz seed and crash reproducer goes through its harness entry without a crash.
  @Test func fuzzCorpusReplays() throws {
    let root = URL(fileURLWithPath: Fixtures.repository + "/fuzz")
    for target in ["png", "jpeg", "image", "safetensors", "config", "modelfile"] {
      var inputs = [root.appendingPathComponent("corpus/\(target)").path]
      let crashes = root.appendingPathComponent("crashes")
      for name in (try? FileManager.default.contentsOfDirectory(atPath: crashes.path)) ?? [] where name.hasPrefix(target + "-") {
        inputs.append(crashes.appendingPathComponent(name).path)
      }
      let r = try Products.run("fuzz", [target] + inputs)
      #expect(r.status == 0, "\(target): exit \(r.status), \(r.stderr)")
    }
  }
}
