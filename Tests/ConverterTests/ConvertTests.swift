// edge-seg convert on the tiny fixture: deterministic bytes (digest pinned), every dequantized weight
// within half a step of the checkpoint's, corruption of the header and table refused, truncation refused.
import Converter
import Foundation
import Kernels
import MaskFormerInt8
import Quant
import Testing
import _TestSupport

enum ConvertFixture {
  static func convert(_ precision: Precision = .int8, kernels: KernelTable = KernelTable(f32GEMM: .portable),
                      method: CalibrationMethod = .percentile) throws -> (path: String, checkpoint: Checkpoint) {
    let checkpoint = try Checkpoint(directory: Fixtures.path("tiny"))
    var options = ConvertOptions()
    options.precision = precision
    options.method = method
    options.calibrationDirectory = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Calibration").path
    options.samples = 1
    options.kernels = kernels
    options.threads = 2
    let path = NSTemporaryDirectory() + "edge-seg-\(UUID().uuidString).eseg"
    try ModelConverter.convert(checkpoint, options: options, to: path) { _, _, _ in }
    return (path, checkpoint)
  }
}

@Suite struct ConvertTests {
  @Test func conversionIsDeterministicAndPinned() throws {
    let (a, _) = try ConvertFixture.convert()
    let (b, _) = try ConvertFixture.convert(kernels: .best(for: .detect()))
    let (c, _) = try ConvertFixture.convert(kernels: .best(for: .detect()))
    defer { for p in [a, b, c] { try? FileManager.default.removeItem(atPath: p) } }
    let da = SHA256.hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: a))))
    #expect(try Data(contentsOf: URL(fileURLWithPath: b)) == Data(contentsOf: URL(fileURLWithPath: c)), "same inputs, same bytes")
    // Every kernel tier computes the same bits (float ones included: FMA dot products in one order), so
    // the portable kernels and this CPU's best make the same file, and the digest is the same on every
    // machine. A change here means the file format, the quantization or the calibration changed: say so.
    #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)), "portable and best kernels, same bytes")
    #expect(da == ConvertTests.pinnedTinyDigest, "tiny int8 file digest \(da)")
    let f = try ConvertFixture.convert(.float32)
    defer { try? FileManager.default.removeItem(atPath: f.path) }
    let df = SHA256.hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: f.path))))
    #expect(df == ConvertTests.pinnedTinyFloat32Digest, "tiny float32 file digest \(df)")
  }

  /// Changed once on purpose (issue 16): the percentile observer's histogram now spans a power of two, so
  /// that a layer seen in chunks (calibration runs the shipped, streamed graph) bins exactly as seen
  /// whole; before, its range started at the first batch's max |x| and so depended on the chunking
  /// (was cf8079ed39900e2cabd34ef41afe40950b3b0258bb56c7e6f19e339cfb849dab). Min/max files (the
  /// bundled model) and float files are unchanged.
  static let pinnedTinyDigest = "07786bd13970d0f8c9b0cb0df465120f02176dc69b29df63b302f1e544fef9e8"
  static let pinnedTinyFloat32Digest = "19343e68b0beade4073e3dea68edcf2a3fc890dd0f5f199a097ef0160e9e9d63"

  @Test func dequantizedWeightsAreWithinHalfAStep() throws {
    let (path, checkpoint) = try ConvertFixture.convert()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try ModelFile(path: path)
    try file.verify()
    let config = try file.config()
    #expect(config == checkpoint.config, "metadata round-trips the configuration")
    try file.validateShapes(config)
    var wrong = config
    wrong.detr.ffnDim += 1
    #expect(throws: ModelFileError.self) { try file.validateShapes(wrong) }
    var checked = 0
    for t in file.tensors where t.dtype == .qgemmI8x4N16 {
      let src = try checkpoint.weights.tensor(t.name)
      let (n, k) = (t.dims[0], t.dims[1])
      let kp = (k + 3) / 4 * 4, panel = 192 + 16 * kp
      let bytes = file.bytes(t)
      // Reduction index k of the file → element of the checkpoint tensor (convs are tap-major).
      func original(_ c: Int, _ kk: Int) -> Float {
        if src.shape.count == 4 {
          let cin = src.shape[1], taps = src.shape[2] * src.shape[3]
          return src.pointer[(c * cin + kk % cin) * taps + kk / cin]
        }
        return src.pointer[c * k + kk]
      }
      for c in 0..<n {
        let base = (c / 16) * panel, j = c % 16
        let scale = Float(bitPattern: bytes.loadUnaligned(fromByteOffset: base + 128 + 4 * j, as: UInt32.self))
        var sum = 0
        for kk in 0..<k {
          let q = Int8(bitPattern: bytes[base + 192 + (kk / 4) * 64 + j * 4 + kk % 4])
          sum += Int(q)
          let w = original(c, kk)
          // Half a step, plus the float rounding of w/s and q·s at a tie (a few ulps of w).
          #expect(abs(Float(q) * scale - w) <= scale / 2 + 4 * abs(w).ulp, "\(t.name)[\(c), \(kk)]: \(Float(q) * scale) vs \(w)")
          checked += 1
        }
        let colsum = Int32(bitPattern: bytes.loadUnaligned(fromByteOffset: base + 64 + 4 * j, as: UInt32.self))
        #expect(Int(colsum) == sum, "\(t.name) channel \(c) column sum")
      }
    }
    #expect(checked > 100_000, "checked \(checked) weights")
  }

  @Test func corruptHeaderAndTableAreRefused() throws {
    let (path, _) = try ConvertFixture.convert()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let file = try ModelFile(path: path)
    let headerEnd = file.tensors.map(\.offset).min()!
    let bad = NSTemporaryDirectory() + "edge-seg-bad-\(UUID().uuidString).eseg"
    defer { try? FileManager.default.removeItem(atPath: bad) }
    var rng = SplitMix64(seed: 11)
    // Every byte of the first 64, then 400 random positions in the rest of the header and table.
    let positions = Array(0..<64) + (0..<400).map { _ in 64 + Int(rng.next() % UInt64(headerEnd - 64)) }
    var messages = Set<String>()
    for p in positions {
      var b = good
      b[p] ^= UInt8(1 << (rng.next() % 8))
      try Data(b).write(to: URL(fileURLWithPath: bad))
      do {
        let f = try ModelFile(path: bad)
        try f.verify()
        // Only padding between the table and the data may flip silently.
        #expect(p >= headerEnd - 64, "flip at \(p) was accepted")
      } catch let e as ModelFileError {
        messages.insert(String(describing: e).components(separatedBy: ":").dropFirst().joined(separator: ":"))
      }
    }
    #expect(messages.count >= 3, "distinct, specific messages: \(messages)")
    for i in 0..<10 {
      let cut = good.count * i / 10
      try Data(good.prefix(cut)).write(to: URL(fileURLWithPath: bad))
      #expect(throws: (any Error).self, "truncated at \(cut)") {
        let f = try ModelFile(path: bad)
        try f.verify()
      }
    }
  }
}
