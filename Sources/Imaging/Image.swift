// Image: pixels in memory (decoded or made by an app), 8 bits per channel, interleaved, row-major, plus the EXIF orientation.

public struct Image: Equatable, Sendable {
  public enum Layout: Int, Sendable, Equatable {
    case gray = 1, grayAlpha = 2, rgb = 3, rgba = 4
    public var channels: Int { rawValue }
  }

  public var width: Int
  public var height: Int
  public var layout: Layout
  /// `height · width · layout.channels` bytes.
  public var pixels: [UInt8]
  /// EXIF orientation tag (1-8; 1 = as stored), applied by `oriented()`.
  public var orientation: Int

  public init(width: Int, height: Int, layout: Layout, pixels: [UInt8], orientation: Int = 1) {
    precondition(pixels.count == width * height * layout.channels, "Image: \(pixels.count) bytes for \(width)x\(height)x\(layout.channels)")
    self.width = width
    self.height = height
    self.layout = layout
    self.pixels = pixels
    self.orientation = orientation
  }

  /// RGB as Pillow's `convert("RGB")` gives it: gray is replicated, alpha dropped (not composited).
  public func rgb() -> Image {
    if layout == .rgb { return self }
    let n = width * height, c = layout.channels
    var out = [UInt8](repeating: 0, count: n * 3)
    for i in 0..<n {
      switch layout {
      case .gray, .grayAlpha:
        let g = pixels[i * c]
        out[3 * i] = g; out[3 * i + 1] = g; out[3 * i + 2] = g
      case .rgb, .rgba:
        out[3 * i] = pixels[i * c]; out[3 * i + 1] = pixels[i * c + 1]; out[3 * i + 2] = pixels[i * c + 2]
      }
    }
    return Image(width: width, height: height, layout: .rgb, pixels: out, orientation: orientation)
  }

  /// The image with its EXIF orientation applied (Pillow's `ImageOps.exif_transpose`); orientation 1.
  /// The size `oriented()` returns, without orienting: EXIF orientations 5-8 transpose.
  public var orientedSize: (height: Int, width: Int) {
    (5...8).contains(orientation) ? (width, height) : (height, width)
  }

  /// The image as a person sees it and as the model reads it: EXIF orientation applied, then RGB
  /// (`oriented().rgb()`; no copy when it is already both).
  public func orientedRGB() -> Image {
    layout == .rgb && orientation == 1 ? self : oriented().rgb()
  }

  public func oriented() -> Image {
    guard (2...8).contains(orientation) else {
      var copy = self
      copy.orientation = 1
      return copy
    }
    // Orientation → where output pixel (x, y) comes from, for an output of size (ow, oh).
    let (oh, ow) = orientedSize, c = layout.channels
    var out = [UInt8](repeating: 0, count: pixels.count)
    for y in 0..<oh {
      for x in 0..<ow {
        let (sx, sy): (Int, Int)
        switch orientation {
        case 2: (sx, sy) = (width - 1 - x, y)                 // mirror horizontal
        case 3: (sx, sy) = (width - 1 - x, height - 1 - y)    // rotate 180
        case 4: (sx, sy) = (x, height - 1 - y)                // mirror vertical
        case 5: (sx, sy) = (y, x)                             // transpose
        case 6: (sx, sy) = (y, height - 1 - x)                // rotate 90 clockwise to view (PIL ROTATE_270)
        case 7: (sx, sy) = (width - 1 - y, height - 1 - x)    // transverse
        default: (sx, sy) = (width - 1 - y, x)                // 8: rotate 90 counter-clockwise to view (ROTATE_90)
        }
        let src = (sy * width + sx) * c, dst = (y * ow + x) * c
        for k in 0..<c { out[dst + k] = pixels[src + k] }
      }
    }
    return Image(width: ow, height: oh, layout: layout, pixels: out, orientation: 1)
  }
}
