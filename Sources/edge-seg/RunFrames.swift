// `edge-seg run MODEL --frames WxH -`: raw RGB24 frames of W x H from standard input (what `ffmpeg -f
// rawvideo -pix_fmt rgb24 -` writes), one session for all of them. Per frame one JSON line of segments on
// standard output, or with `--overlay-frames -` the overlay frame (W x H RGB24, no legend) there
// instead, for `| ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -i - out.mp4`. At the end, frames and
// frames/s on stderr. A stream that ends inside a frame is reported after the last whole frame (exit 65).
import EdgeSeg
import Foundation
import ProcessStats
import Rendering
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `WxH` as (width, height), both positive and the frame under 2^31 bytes.
func parseFrameSize(_ text: String) throws(UsageError) -> (width: Int, height: Int) {
  let parts = text.lowercased().split(separator: "x")
  guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w * h * 3 < Int(Int32.max) else {
    throw UsageError(description: "--frames takes WIDTHxHEIGHT (e.g. 640x480), got '\(text)'")
  }
  return (w, h)
}

struct StreamReadError: Error, CustomStringConvertible {
  var description: String { "standard input: cannot read: \(String(cString: strerror(code)))" }
  var code: Int32
}

/// Reads up to `count` bytes into `p` from `fd`; returns how many (fewer only at the end of the stream).
func readFully(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int) throws(StreamReadError) -> Int {
  var got = 0
  while got < count {
    let n = read(fd, p + got, count - got)
    if n == 0 { break }
    if n < 0 {
      if errno == EINTR { continue }
      throw StreamReadError(code: errno)
    }
    got += n
  }
  return got
}

/// Writes all `count` bytes at `p` to `fd`.
func writeFully(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Bool {
  var done = 0
  while done < count {
    let n = write(fd, p + done, count - done)
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { return false }
    done += n
  }
  return true
}

struct FrameLine: Encodable {
  struct Seg: Encodable { var id: Int; var label: String; var label_id: Int; var score: Double?; var area: Int; var bbox: [Int] }
  var frame: Int
  var segments: [Seg]
  var model_ms: Double
}

func runFrames(_ opts: OptionParser, model modelPath: String, sizeText: String, input: String) -> Int32 {
  let options: SegmentationOptions, size: (width: Int, height: Int)
  do {
    options = try segmentationOptions(opts)
    size = try parseFrameSize(sizeText)
    guard input == "-" else { throw UsageError(description: "--frames reads standard input: give '-' as the input, got '\(input)'") }
    if let o = opts.value("--overlay-frames"), o != "-" {
      throw UsageError(description: "--overlay-frames writes to standard output: give '-', got '\(o)'")
    }
  } catch {
    return optionFailure(error, command: "run")
  }
  let overlay = opts.value("--overlay-frames") != nil
  signal(SIGPIPE, SIG_IGN)   // a reader that goes away is an error to report (exit 73), not a kill
  let session: Session, labels: [String]
  do {
    let model = try openModel(modelPath, opts)
    labels = model.labels
    session = try model.session(height: size.height, width: size.width,
                                configuration: try sessionConfiguration(opts, command: "run", singleImage: false))
  } catch {
    return runFailure(error, command: "run", opts)
  }
  let frameBytes = size.width * size.height * 3
  var frame = [UInt8](repeating: 0, count: frameBytes)
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  var count = 0
  let start = ContinuousClock.now
  var status: Int32 = 0
  while true {
    let got: Int
    do {
      got = try frame.withUnsafeMutableBytes { try readFully(0, $0.baseAddress!, frameBytes) }
    } catch {
      printError("\(error)")
      status = 66
      break
    }
    if got == 0 { break }
    if got < frameBytes {
      printError("standard input: the stream ended inside frame \(count) (\(got) of \(frameBytes) bytes for \(size.width)x\(size.height) RGB24): "
                 + "is --frames the stream's size? \(count) whole frames were processed")
      status = 65
      break
    }
    let image = Image(width: size.width, height: size.height, layout: .rgb, pixels: frame)
    do {
      let t0 = ContinuousClock.now
      let result = try session.segment(image, options: options)
      let modelMs = Double((ContinuousClock.now - t0).components.attoseconds) / 1e15 + Double((ContinuousClock.now - t0).components.seconds) * 1000
      if overlay {
        let out = Overlay.render(photo: image, segmentation: result.segmentation, labels: labels, legend: false)
        let ok = out.pixels.withUnsafeBytes { writeFully(1, $0.baseAddress!, $0.count) }
        guard ok else {
          printError("standard output: cannot write overlay frame \(count) (the reader closed the pipe?)")
          status = 73
          break
        }
      } else {
        var segs: [FrameLine.Seg] = []
        var seen = Set<Int>()
        for s in result.segments where seen.insert(s.id).inserted {
          segs.append(.init(id: s.id, label: s.labelId < labels.count ? labels[s.labelId] : "\(s.labelId)", label_id: s.labelId,
                            score: s.score, area: s.area, bbox: [s.box.x, s.box.y, s.box.width, s.box.height]))
        }
        guard var line = try? encoder.encode(FrameLine(frame: count, segments: segs, model_ms: (modelMs * 100).rounded() / 100)) else {
          status = 1
          break
        }
        line.append(10)
        let ok = line.withUnsafeBytes { writeFully(1, $0.baseAddress!, $0.count) }
        guard ok else {
          printError("standard output: cannot write the line of frame \(count) (the reader closed the pipe?)")
          status = 73
          break
        }
      }
    } catch {
      status = runFailure(error, command: "run", opts)
      break
    }
    count += 1
  }
  let d = ContinuousClock.now - start
  let secs = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
  FileHandle.standardError.write("run: \(count) frames of \(size.width)x\(size.height) in " + String(format: "%.2f s (%.2f frames/s)", secs, Double(count) / max(secs, 1e-9))
                                 + "; peak RSS \(ProcessMemory.peakResidentKB()) KiB\n")
  return status
}
