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

/// One frame's JSON line, written into a buffer kept from frame to frame (JSONEncoder allocated ~100 times
/// per frame; issue 19: no allocation per frame). Keys sorted as JSONEncoder's `.sortedKeys` writes them:
/// `{"frame":N,"model_ms":X,"segments":[{"area":A,"bbox":[x,y,w,h],"id":I,"label":"L","label_id":K,"score":S}]}`.
struct FrameLineWriter {
  private(set) var bytes: [UInt8] = []

  init() { bytes.reserveCapacity(1 << 16) }

  mutating func write(frame: Int, modelMs: Double, segments: [Segment], labels: [String]) {
    bytes.removeAll(keepingCapacity: true)
    append("{\"frame\":"); append(frame)
    append(",\"model_ms\":"); append(modelMs)
    append(",\"segments\":[")
    var first = true
    for (n, s) in segments.enumerated() where !segments[..<n].contains(where: { $0.id == s.id }) {
      if !first { bytes.append(UInt8(ascii: ",")) }
      first = false
      append("{\"area\":"); append(s.area)
      append(",\"bbox\":["); append(s.box.x); append(","); append(s.box.y); append(","); append(s.box.width); append(",")
      append(s.box.height)
      append("],\"id\":"); append(s.id)
      append(",\"label\":")
      if s.labelId < labels.count { appendQuoted(labels[s.labelId]) } else { append("\""); append(s.labelId); append("\"") }
      append(",\"label_id\":"); append(s.labelId)
      if let score = s.score { append(",\"score\":"); append(score) }
      append("}")
    }
    append("]}\n")
  }

  private mutating func append(_ text: StaticString) {
    text.withUTF8Buffer { bytes.append(contentsOf: $0) }
  }

  private mutating func append(_ v: Int) {
    if v < 0 { bytes.append(UInt8(ascii: "-")) }
    // The digits last to first into a tuple on the stack, then appended in order.
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0), n = 0, m = v.magnitude
    withUnsafeMutableBytes(of: &digits) { d in
      repeat { d[n] = UInt8(ascii: "0") + UInt8(m % 10); m /= 10; n += 1 } while m > 0
      for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(d[i]) }
    }
  }

  /// The shortest text that reads back as `v` (Swift's description, as JSONEncoder writes doubles; a whole
  /// number without ".0"). Short: a small string, no allocation.
  private mutating func append(_ v: Double) {
    if v == v.rounded(), v.magnitude < 1e15 { append(Int(v)); return }
    var text = v.description
    text.withUTF8 { bytes.append(contentsOf: $0) }
  }

  /// `text` as a JSON string: quote, backslash and control characters escaped.
  private mutating func appendQuoted(_ text: String) {
    bytes.append(UInt8(ascii: "\""))
    for c in text.utf8 {
      switch c {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(c)
      case 0..<0x20:
        let hex: StaticString = "0123456789abcdef"
        append("\\u00")
        hex.withUTF8Buffer { h in bytes.append(h[Int(c >> 4)]); bytes.append(h[Int(c & 15)]) }
      default: bytes.append(c)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }
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
  var line = FrameLineWriter()
  var overlayPixels: [UInt8] = [], overlayColors = Overlay.Colors()   // reused frame after frame
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
        Overlay.paint(photo: image, segmentation: result.segmentation, into: &overlayPixels, colors: &overlayColors)
        let ok = overlayPixels.withUnsafeBytes { writeFully(1, $0.baseAddress!, $0.count) }
        guard ok else {
          printError("standard output: cannot write overlay frame \(count) (the reader closed the pipe?)")
          status = 73
          break
        }
      } else {
        line.write(frame: count, modelMs: (modelMs * 100).rounded() / 100, segments: result.segments, labels: labels)
        let ok = line.bytes.withUnsafeBytes { writeFully(1, $0.baseAddress!, $0.count) }
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
