// `edge-seg decode IMAGE [--png OUT.png]`: decode an image as `run` does (EXIF orientation applied,
// RGB), report size, time and peak memory; optionally write it as PNG. For checking codecs.
import Converter
import EdgeSeg
import Foundation
import ProcessStats

func decodeCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  do { opts = try OptionParser(args, command: "decode") } catch {
    return optionFailure(error, command: "decode")
  }
  guard opts.positional.count == 1 else {
    printError("decode: expected one IMAGE")
    return 64
  }
  let path = opts.positional[0]
  guard let data = FileManager.default.contents(atPath: path) else {
    printError("\(path): cannot read file")
    return 66
  }
  let t0 = DispatchTime.now()
  do {
    let maxPixels = try opts.int("--max-pixels", default: DecodeLimits().maxPixels, range: 1...Int(Int32.max) * 4)
    let image = try ImageDecoder.decode([UInt8](data), limits: DecodeLimits(maxPixels: maxPixels)).orientedRGB()
    let secs = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    if let out = opts.value("--png") { try AtomicFile.write(Data(PNG.encode(image)), to: out) }
    print("\(path): \(image.width)x\(image.height) RGB, decoded in \(String(format: "%.3f", secs)) s, VmHWM \(ProcessMemory.peakResidentKB()) KiB")
    return 0
  } catch let e as UsageError {
    printError("decode: \(e)")
    return 64
  } catch {
    printError("\(path): \(error)")
    return 65
  }
}
