// Soak, small (issue 20; bench/soak.py is the long one): 160 images of four sizes through one batch
// process. Memory must not grow after warm-up (RssAnon from /proc at the JSON lines of images 40 and
// 159: at most 1 MiB more) and sampled outputs must equal fresh single runs.
import Foundation
import ImageCodecs
import Testing
import _TestSupport

@Suite(.serialized) struct SoakTests {
  @Test func memoryFlatAndOutputsEqualSingleRuns() throws {
    #if os(Linux)
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-soak-\(getpid())")
    let folder = work.appendingPathComponent("in").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    // The 20 fixture images (128x128) at four sizes (nearest-pixel scaling), twice over.
    let src = Fixtures.repository + "/Tests/Fixtures/shapes-val/images"
    let names = try FileManager.default.contentsOfDirectory(atPath: src).filter { $0.hasSuffix(".png") }.sorted()
    var count = 0
    for _ in 0..<2 {
      for name in names {
        let rgb = try ImageDecoder.decode(contentsOfFile: src + "/" + name).orientedRGB()
        for (w, h) in [(128, 128), (160, 120), (192, 192), (96, 144)] {
          var px = [UInt8](repeating: 0, count: 3 * w * h)
          for y in 0..<h {
            for x in 0..<w {
              let o = 3 * ((y * rgb.height / h) * rgb.width + x * rgb.width / w)
              for c in 0..<3 { px[3 * (y * w + x) + c] = rgb.pixels[o + c] }
            }
          }
          try Data(PNG.encode(Image(width: w, height: h, layout: .rgb, pixels: px)))
            .write(to: URL(fileURLWithPath: folder + "/" + String(format: "%05d.png", count)))
          count += 1
        }
      }
    }
    let model = Fixtures.repository + "/Models/shapes/model.int8.eseg", outDir = work.appendingPathComponent("out").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Products.path("edge-seg"))
    p.arguments = ["run", model, folder, "--output", outDir, "--json", "--threads", "2"]
    let o = Pipe()
    p.standardOutput = o
    p.standardError = FileHandle.nullDevice
    try p.run()
    func rssAnon() -> Int? {
      guard let s = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8) else { return nil }
      return s.split(separator: "\n").first { $0.hasPrefix("RssAnon:") }.flatMap { Int($0.filter(\.isNumber)) }
    }
    var lines = 0, warm: Int?, late: Int?, buffer = Data()
    while case let chunk = o.fileHandleForReading.availableData, !chunk.isEmpty {
      buffer.append(chunk)
      while let nl = buffer.firstIndex(of: 10) {
        buffer.removeSubrange(...nl)
        lines += 1
        if lines == 40 { warm = rssAnon() }
        if lines == count - 1 { late = rssAnon() }
      }
    }
    p.waitUntilExit()
    #expect(p.terminationStatus == 0 && lines == count, "exit \(p.terminationStatus), \(lines) of \(count) lines")
    let (w0, w1) = (try #require(warm), try #require(late))
    #expect(w1 - w0 <= 1024, "RssAnon grew \(w1 - w0) KiB between images 40 and \(count - 1) (\(w0) -> \(w1) KiB)")
    for i in [3, 77, 150] {
      let name = String(format: "%05d", i), single = work.appendingPathComponent("single-\(name)").path
      #expect(try Products.run("edge-seg", ["run", model, folder + "/\(name).png", "--output", single, "--threads", "2"]).status == 0)
      for file in try FileManager.default.contentsOfDirectory(atPath: single) where file.hasSuffix(".png") {
        #expect(FileManager.default.contents(atPath: single + "/" + file) == FileManager.default.contents(atPath: outDir + "/\(name)/" + file),
                "image \(i), \(file): batch differs from a fresh single run")
      }
    }
    #endif
  }
}
