// Fuzz harness: one entry per untrusted-input parser. Built two ways:
// - `swift build --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING` (fuzz/run.sh): libFuzzer
//   provides main and calls LLVMFuzzerTestOneInput; $EDGE_SEG_FUZZ names the target.
// - a plain build (every `swift build`): a replay driver, `fuzz TARGET FILE...`, that runs inputs
//   (crash reproducers, the seed corpus) through the same entry; tests use it.
// Every target must return normally on any input: a thrown error is fine, a trap is a bug.
import Converter
import Foundation
import ImageCodecs
import MaskFormerInt8

enum FuzzTarget: String, CaseIterable {
  case png, jpeg, image, safetensors, config, modelfile

  /// 256 x 256: the decoders run the same code on any size, and a header declaring millions of pixels
  /// makes one input take milliseconds under ASan (JPEG: 470 executions/s at the default limit).
  static let limits = DecodeLimits(maxPixels: 1 << 16)

  func run(_ bytes: [UInt8]) {
    switch self {
    case .png: _ = try? PNG.decode(bytes, limits: Self.limits)
    case .jpeg: _ = try? JPEG.decode(bytes, limits: Self.limits)
    case .image: _ = try? ImageDecoder.decode(bytes, limits: Self.limits).orientedRGB()
    case .safetensors:
      // The parsers take their input in memory here: the same code as after mmap, without a file per input.
      let mapping = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "fuzz-input") }
      guard let f = try? SafetensorsFile(mapping: mapping) else { return }
      for name in f.entries.keys.sorted() { _ = try? f.tensor(name) }
    case .config:
      _ = try? HFConfig.maskFormer(path: "fuzz-input", contents: Data(bytes))
      _ = try? HFConfig.mask2Former(path: "fuzz-input", contents: Data(bytes))
      _ = try? HFConfig.preprocessor(path: "fuzz-input", contents: Data(bytes))
    case .modelfile:
      let mapping = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "fuzz-input") }
      guard let f = try? ModelFile(mapping: mapping) else { return }
      _ = try? f.verify()
      _ = try? f.preprocessor()
      _ = try? f.network()   // either family: validates every tensor by building the model from the stored configuration
    }
  }
}

#if FUZZING
let fuzzTarget: FuzzTarget = {
  guard let name = ProcessInfo.processInfo.environment["EDGE_SEG_FUZZ"], let t = FuzzTarget(rawValue: name) else {
    fatalError("set EDGE_SEG_FUZZ to one of \(FuzzTarget.allCases.map(\.rawValue))")
  }
  return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  fuzzTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
#else
@main
struct Replay {
  static func main() {
    let args = CommandLine.arguments.dropFirst()
    guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
      FileHandle.standardError.write(Data("usage: fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE_OR_DIR...\n".utf8))
      exit(64)
    }
    var count = 0
    for path in args.dropFirst() {
      var isDir: ObjCBool = false
      _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
      let files = isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
      for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        target.run([UInt8](data))
        count += 1
      }
    }
    print("\(target.rawValue): \(count) inputs replayed, no crash")
  }
}
#endif
