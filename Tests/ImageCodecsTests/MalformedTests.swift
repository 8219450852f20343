// Hostile image files: truncation at 16 points, random byte flips, zero dimensions and declared sizes
// of 100000x100000 must give an ImageError, never a crash or a huge allocation.
import Foundation
import ImageCodecs
import Testing
import _TestSupport

@Suite struct MalformedTests {
  static let seeds = ["png/c2_d8_i1_33x17.png", "png/c3_d4_i0_33x17.png", "png/c0_d16_i1_33x17.png",
                      "jpeg/s120x77_q90_sub2_base.jpg", "jpeg/s120x77_q90_sub1_prog.jpg", "jpeg/restart3_sub2.jpg",
                      "jpeg/s33x31_gray_prog.jpg"]

  @Test(arguments: seeds)
  func truncatedFilesAreRefused(_ name: String) throws {
    let good = try readBytes(Fixtures.path(name))
    for i in 0..<16 {
      let cut = good.count * i / 16
      #expect(throws: ImageError.self, "\(name) cut at \(cut) of \(good.count)") { _ = try ImageDecoder.decode(Array(good.prefix(cut))) }
    }
  }

  @Test(arguments: seeds)
  func bitFlipsNeverCrash(_ name: String) throws {
    let good = try readBytes(Fixtures.path(name))
    var rng = SplitMix64(seed: UInt64(name.utf8.count * 7919))
    var refused = 0, unchanged = 0
    // EDGE_SEG_FLIPS raises the count for a longer local run (default 300 per seed file).
    let rounds = ProcessInfo.processInfo.environment["EDGE_SEG_FLIPS"].flatMap(Int.init) ?? 300
    for _ in 0..<rounds {
      var bad = good
      for _ in 0..<(1 + Int(rng.next() % 4)) {
        bad[Int(rng.next() % UInt64(bad.count))] ^= UInt8(1 << (rng.next() % 8))
      }
      if bad == good { unchanged += 1 }   // two flips of the same bit cancel out
      do {
        let image = try ImageDecoder.decode(bad, limits: DecodeLimits(maxPixels: 1 << 22))
        #expect(image.pixels.count == image.width * image.height * image.layout.channels)
      } catch {
        refused += 1   // decoding may also succeed (JPEG has no checksum): only crashes fail here
      }
    }
    if name.hasSuffix(".png") { #expect(refused + unchanged == rounds, "PNG has CRCs: every flip must be caught, \(refused)/\(rounds)") }
  }

  /// Found by the jpeg fuzz target (fuzz/crashes/jpeg-crash-c7e14939...): a scan header of length 2
  /// as the file's last bytes made the decoder read one byte past the end. Also a 2-byte DRI segment.
  @Test func emptyScanAndRestartSegmentsAreRefused() throws {
    let crash = try readBytes(Fixtures.repository + "/fuzz/crashes/jpeg-crash-c7e14939521a064b9982d1812e51c5039ae66a9d")
    #expect(crash.suffix(4) == [0xFF, 0xDA, 0x00, 0x02], "the reproducer ends in an empty SOS")
    #expect(throws: ImageError.self) { _ = try ImageDecoder.decode(crash) }
    let good = try readBytes(Fixtures.path("jpeg/s120x77_q90_sub2_base.jpg"))
    // An empty DRI right after SOI, followed by the rest of the file.
    let dri = Array(good.prefix(2)) + [0xFF, 0xDD, 0x00, 0x02] + Array(good.dropFirst(2))
    #expect(throws: ImageError.self) { _ = try ImageDecoder.decode(dri) }
  }

  @Test func zeroAndHugeDimensionsAreRefusedBeforeAllocating() throws {
    func png(width: UInt32, height: UInt32) -> [UInt8] { TestImages.pngHeader(width: width, height: height) }
    #expect(throws: ImageError.malformed("zero dimension 0x10")) { _ = try ImageDecoder.decode(png(width: 0, height: 10)) }
    #expect(throws: ImageError.tooLarge(width: 100_000, height: 100_000, limit: DecodeLimits().maxPixels)) {
      _ = try ImageDecoder.decode(png(width: 100_000, height: 100_000))
    }
    // JPEG SOF0 declaring 100000 x 100000 is impossible (16-bit fields); 65535 x 65535 exceeds the limit.
    var jpeg = try readBytes(Fixtures.path("jpeg/s16x16_q90_sub2_base.jpg"))
    let sof = try #require((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
    jpeg[sof + 5] = 0xFF; jpeg[sof + 6] = 0xFF; jpeg[sof + 7] = 0xFF; jpeg[sof + 8] = 0xFF
    #expect(throws: ImageError.tooLarge(width: 65535, height: 65535, limit: DecodeLimits().maxPixels)) { _ = try ImageDecoder.decode(jpeg) }
    jpeg[sof + 5] = 0; jpeg[sof + 6] = 0
    #expect(throws: ImageError.self) { _ = try ImageDecoder.decode(jpeg) }
    #expect(throws: ImageError.tooLarge(width: 100_000, height: 100_000, limit: 1000)) {
      _ = try ImageDecoder.decode(Array("P6\n100000 100000\n255\n".utf8), limits: DecodeLimits(maxPixels: 1000))
    }
    #expect(throws: ImageError.unknownFormat) { _ = try ImageDecoder.decode([]) }
    #expect(throws: ImageError.unknownFormat) { _ = try ImageDecoder.decode(Array("GIF89a".utf8)) }
  }
}
