// `edge-seg run MODEL --frames WxH -` (issue 19): raw RGB24 frames on standard input, a JSON line or an
// overlay frame out per frame; a stream ending inside a frame is reported after the whole ones (exit 65);
// and the ffmpeg pipeline end to end, where Debian's ffmpeg is installed (.ci/run installs it).
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct FramesTests {
  let model = Fixtures.repository + "/Models/shapes/model.int8.eseg"

  /// Runs a program with `input` on its standard input; (status, stdout bytes, stderr).
  func pipe(_ executable: String, _ args: [String], input: Data) throws -> (status: Int32, out: Data, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let i = Pipe(), o = Pipe(), e = Pipe()
    p.standardInput = i; p.standardOutput = o; p.standardError = e
    try p.run()
    let writer = Thread {
      try? i.fileHandleForWriting.write(contentsOf: input)
      try? i.fileHandleForWriting.close()
    }
    writer.start()
    nonisolated(unsafe) var err = Data()
    let errReader = Thread { err = e.fileHandleForReading.readDataToEndOfFile() }
    errReader.start()
    let out = o.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !writer.isFinished || !errReader.isFinished { usleep(1000) }
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return (status, out, String(decoding: err, as: UTF8.self))
  }

  /// `count` frames of w x h: moving colour bands.
  func frames(_ count: Int, _ w: Int, _ h: Int) -> Data {
    var d = Data(capacity: count * w * h * 3)
    for f in 0..<count {
      for y in 0..<h { for x in 0..<w {
        let band = ((x + 3 * f) / 16 + y / 24) % 4
        d.append(contentsOf: band == 0 ? [220, 40, 40] : band == 1 ? [40, 200, 60] : band == 2 ? [30, 60, 220] : [240, 240, 240])
      } }
    }
    return d
  }

  @Test func jsonLinesOverlayFramesAndTruncatedStreams() throws {
    let exe = Products.path("edge-seg"), (w, h) = (96, 64)
    let input = frames(4, w, h)
    let json = try pipe(exe, ["run", model, "--frames", "\(w)x\(h)", "-", "--threads", "2"], input: input)
    #expect(json.status == 0, "\(json.err)")
    let lines = String(decoding: json.out, as: UTF8.self).split(separator: "\n")
    #expect(lines.count == 4, "one line per frame: \(lines.count)")
    for (i, l) in lines.enumerated() {
      let o = try #require(try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
      #expect(o["frame"] as? Int == i && o["segments"] is [Any])
    }
    #expect(json.err.contains("4 frames of 96x64"), "\(json.err)")
    let overlay = try pipe(exe, ["run", model, "--frames", "\(w)x\(h)", "-", "--overlay-frames", "-"], input: input)
    #expect(overlay.status == 0 && overlay.out.count == input.count, "4 overlay frames of \(w * h * 3) bytes: \(overlay.out.count), \(overlay.err)")
    #expect(overlay.out != input, "the overlay paints the frames")
    // A partial last frame: the whole ones are processed, then a clear error and exit 65.
    let cut = try pipe(exe, ["run", model, "--frames", "\(w)x\(h)", "-"], input: input.prefix(input.count - 100))
    #expect(cut.status == 65, "\(cut.err)")
    #expect(cut.err.contains("ended inside frame 3") && cut.err.contains("3 whole frames"), "\(cut.err)")
    #expect(String(decoding: cut.out, as: UTF8.self).split(separator: "\n").count == 3)
    // A size that is not WxH: usage error before reading anything.
    let bad = try pipe(exe, ["run", model, "--frames", "96by64", "-"], input: Data())
    #expect(bad.status == 64 && bad.err.contains("--frames takes WIDTHxHEIGHT"), "\(bad.err)")
  }

  /// ffmpeg decodes a generated video to raw frames, edge-seg segments them in the pipe and ffmpeg encodes
  /// the overlay frames; ffprobe reads back the frame count and size.
  @Test func ffmpegPipeline() throws {
    let find = { (name: String) in ["/usr/bin/" + name, "/usr/local/bin/" + name].first { FileManager.default.isExecutableFile(atPath: $0) } }
    guard let ffmpeg = find("ffmpeg"), let ffprobe = find("ffprobe") else {
      print("FramesTests.ffmpegPipeline: skipped: no ffmpeg/ffprobe (Debian's ffmpeg package; .ci/run installs it)")
      return
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-ffmpeg-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let src = dir.appendingPathComponent("in.mp4").path, out = dir.appendingPathComponent("out.mp4").path
    let gen = try pipe(ffmpeg, ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-pix_fmt", "yuv420p", src], input: Data())
    #expect(gen.status == 0, "\(gen.err)")
    let raw = try pipe(ffmpeg, ["-loglevel", "error", "-i", src, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], input: Data())
    #expect(raw.out.count == 20 * 160 * 120 * 3, "ffmpeg gave \(raw.out.count) bytes")
    let seg = try pipe(Products.path("edge-seg"), ["run", model, "--frames", "160x120", "-", "--overlay-frames", "-"], input: raw.out)
    #expect(seg.status == 0 && seg.out.count == raw.out.count, "\(seg.err)")
    let enc = try pipe(ffmpeg, ["-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "160x120", "-r", "10", "-i", "-",
                                "-pix_fmt", "yuv420p", out], input: seg.out)
    #expect(enc.status == 0, "\(enc.err)")
    let probe = try pipe(ffprobe, ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,width,height",
                                   "-of", "csv=p=0", out], input: Data())
    #expect(String(decoding: probe.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "160,120,20", "\(probe.out) \(probe.err)")
  }
}
