// ImageProcessor: MaskFormerImageProcessor's PIL backend for inference (transformers,
// image_processing_pil_maskformer.py): EXIF transpose and RGB conversion (`modelInput`), the size rule, Pillow's fixed-point bilinear resize on uint8, rescale in float64 and
// normalize in float32. Bit-exact against transformers (tested on photos and synthetic sizes).
import Imaging

/// One preprocessed image: `pixel_values` `[3, height, width]` NCHW float32.
public struct PixelValues: Sendable, Equatable {
  /// The storage of `3 × height × width` pixel values, every one written by `initialize` (the
  /// preprocessing, and the dry run of `MemoryPlan` with nothing written).
  public static func buffer(height: Int, width: Int, in arena: Arena?,
                            initializingWith initialize: (UnsafeMutableBufferPointer<Float>) -> Void) -> ArenaArray<Float> {
    ArenaArray(unsafeUninitializedCount: 3 * height * width, in: arena, initializingWith: initialize)
  }

  public var height: Int
  public var width: Int
  public var data: ArenaArray<Float>

  public init(height: Int, width: Int, data: ArenaArray<Float>) {
    precondition(data.count == 3 * height * width, "pixel_values: \(data.count) floats for 3x\(height)x\(width)")
    self.height = height
    self.width = width
    self.data = data
  }
}

public enum ImageProcessor {
  /// Output size `(height, width)` of an `h × w` image under `config` (maskformer-spec §1.1):
  /// `get_size_with_aspect_ratio` with Python's banker's rounding and `int()` truncation, then ceil to
  /// a multiple of the size divisor (a stretch, not a pad).
  public static func outputSize(height h: Int, width w: Int, config: PreprocessorConfig) -> (height: Int, width: Int) {
    var (oh, ow) = (h, w)
    if config.doResize {
      switch config.size {
      case .shortestEdge(let s, let l):
        (oh, ow) = sizeWithAspectRatio(h, w, shortest: s, longest: l)
      case .fixed(let fh, let fw):
        (oh, ow) = (fh, fw)
      case .maxSize(let mh, let mw):
        let scale = min(Double(mh) / Double(h), Double(mw) / Double(w))
        (oh, ow) = (Int(Double(h) * scale), Int(Double(w) * scale))
      }
      if config.sizeDivisor > 0 {
        let d = config.sizeDivisor
        oh = (oh + d - 1) / d * d
        ow = (ow + d - 1) / d * d
      }
    }
    return (oh, ow)
  }

  /// transformers' `get_size_with_aspect_ratio((h, w), S, L)`.
  static func sizeWithAspectRatio(_ h: Int, _ w: Int, shortest: Int, longest: Int?) -> (Int, Int) {
    var size = shortest
    var raw: Double? = nil
    let minSide = Double(min(h, w)), maxSide = Double(max(h, w))
    if let longest, maxSide / minSide * Double(shortest) > Double(longest) {
      let r = Double(longest) * minSide / maxSide
      raw = r
      size = Int(r.rounded(.toNearestOrEven))   // Python round(): half to even
    }
    if (h <= w && h == size) || (w <= h && w == size) { return (h, w) }
    let s = raw ?? Double(size)
    if w < h { return (Int(s * Double(h) / Double(w)), size) }   // int(): truncation
    return (size, Int(s * Double(w) / Double(h)))
  }

  /// The model's input for any image as decoded: EXIF orientation applied, RGB, resized and
  /// normalized. The one preprocessing chain every caller (pipeline, calibration, eval, drift) uses.
  /// `resize`: the resize's coefficients made once for this image size (a session's), else made here.
  public static func modelInput(_ image: Image, config: PreprocessorConfig, resize: PillowResize.Plan? = nil,
                                reusing buffers: PillowResize.Buffers? = nil, in arena: Arena? = nil) -> PixelValues {
    pixelValues(image.orientedRGB(), config: config, resize: resize, reusing: buffers, in: arena)
  }

  /// `pixel_values` of an RGB image, oriented already (`Image.orientedRGB()`).
  public static func pixelValues(_ image: Image, config: PreprocessorConfig, resize: PillowResize.Plan? = nil,
                                 reusing buffers: PillowResize.Buffers? = nil, in arena: Arena? = nil) -> PixelValues {
    precondition(image.layout == .rgb, "ImageProcessor expects RGB, got \(image.layout)")
    let (oh, ow) = outputSize(height: image.height, width: image.width, config: config)
    let resized: Image
    if oh == image.height && ow == image.width {
      resized = image
    } else if let resize, resize.matches(from: (image.height, image.width), to: (oh, ow)) {
      resized = PillowResize.bilinear(image, resize, reusing: buffers ?? PillowResize.Buffers())
    } else {
      resized = PillowResize.bilinear(image, width: ow, height: oh)
    }
    let plane = oh * ow
    let out = PixelValues.buffer(height: oh, width: ow, in: arena) { out in
      for c in 0..<3 {
        let mean = config.imageMean[c], std = config.imageStd[c]
        for p in 0..<plane {
          var x = Float(resized.pixels[3 * p + c])
          if config.doRescale { x = Float(Double(resized.pixels[3 * p + c]) * config.rescaleFactor) }
          if config.doNormalize { x = (x - mean) / std }
          out[c * plane + p] = x
        }
      }
    }
    return PixelValues(height: oh, width: ow, data: out)
  }
}

/// Pillow's `Image.resize(..., BILINEAR)` on 8-bit images (libImaging/Resample.c): separable triangle
/// filter widened by the downscale factor (antialiasing), coefficients in 22-bit fixed point,
/// horizontal pass into a uint8 image first, then vertical; a pass is skipped when its size is unchanged.
public enum PillowResize {
  static let precisionBits = 22

  /// Per output index: first input index, tap count and the fixed-point weights (`ksize` each).
  struct Coefficients: Sendable {
    var bounds: [(start: Int, count: Int)]
    var weights: [Int32]
    var ksize: Int
  }

  static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1)
    let support = 1.0 * filterScale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    var bounds: [(Int, Int)] = []
    bounds.reserveCapacity(outSize)
    var weights = [Int32](repeating: 0, count: outSize * ksize)
    var k = [Double](repeating: 0, count: ksize)
    for xx in 0..<outSize {
      let center = (Double(xx) + 0.5) * scale
      let ss = 1.0 / filterScale
      let xmin = max(Int(center - support + 0.5), 0)
      let xmax = min(Int(center + support + 0.5), inSize) - xmin
      var ww = 0.0
      for x in 0..<xmax {
        var t = (Double(x + xmin) - center + 0.5) * ss
        if t < 0 { t = -t }
        let w = t < 1 ? 1 - t : 0
        k[x] = w
        ww += w
      }
      for x in 0..<ksize {
        let v = x < xmax ? (ww != 0 ? k[x] / ww : k[x]) : 0
        let scaled = v * Double(1 << precisionBits)
        weights[xx * ksize + x] = Int32(v < 0 ? Int(-0.5 + scaled) : Int(0.5 + scaled))
      }
      bounds.append((xmin, max(xmax, 0)))
    }
    return Coefficients(bounds: bounds, weights: weights, ksize: ksize)
  }

  @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
    if v >= Int32(1) << Int32(precisionBits + 8) { return 255 }
    if v <= 0 { return 0 }
    return UInt8(v >> Int32(precisionBits))
  }

  /// The coefficients of one resize, `from` → `to` (height, width), made once (a session's images share them).
  public struct Plan: Sendable {
    let from: (height: Int, width: Int), to: (height: Int, width: Int)
    let horizontal: Coefficients?, vertical: Coefficients?

    public init(from: (height: Int, width: Int), to: (height: Int, width: Int)) {
      (self.from, self.to) = (from, to)
      horizontal = to.width != from.width ? coefficients(inSize: from.width, outSize: to.width) : nil
      vertical = to.height != from.height ? coefficients(inSize: from.height, outSize: to.height) : nil
    }

    func matches(from f: (height: Int, width: Int), to t: (height: Int, width: Int)) -> Bool { f == from && t == to }
  }

  public static func bilinear(_ image: Image, width ow: Int, height oh: Int) -> Image {
    bilinear(image, Plan(from: (image.height, image.width), to: (oh, ow)))
  }

  /// The two passes' pixel arrays, reused from image to image (a session's): no heap allocation per image.
  public final class Buffers: @unchecked Sendable {   // one resize at a time
    var horizontal: [UInt8] = [], vertical: [UInt8] = []
    public init() {}
  }

  static func bilinear(_ image: Image, _ plan: Plan, reusing buffers: Buffers = Buffers()) -> Image {
    precondition(plan.matches(from: (image.height, image.width), to: plan.to), "resize plan for \(plan.from), image \(image.height)x\(image.width)")
    let (oh, ow) = plan.to
    let ch = image.layout.channels
    var cur = image
    if let co = plan.horizontal {
      var out = buffers.horizontal.takeAll()
      out.reuse(count: cur.height * ow * ch, repeating: 0)
      defer { buffers.horizontal = out }
      for y in 0..<cur.height {
        for x in 0..<ow {
          let (start, count) = co.bounds[x]
          for c in 0..<ch {
            var ss: Int32 = 1 << Int32(precisionBits - 1)
            for t in 0..<count {
              ss &+= Int32(cur.pixels[(y * cur.width + start + t) * ch + c]) &* co.weights[x * co.ksize + t]
            }
            out[(y * ow + x) * ch + c] = clip8(ss)
          }
        }
      }
      cur = Image(width: ow, height: cur.height, layout: cur.layout, pixels: out)
    }
    if let co = plan.vertical {
      var out = buffers.vertical.takeAll()
      out.reuse(count: oh * cur.width * ch, repeating: 0)
      defer { buffers.vertical = out }
      for y in 0..<oh {
        let (start, count) = co.bounds[y]
        for x in 0..<cur.width {
          for c in 0..<ch {
            var ss: Int32 = 1 << Int32(precisionBits - 1)
            for t in 0..<count {
              ss &+= Int32(cur.pixels[((start + t) * cur.width + x) * ch + c]) &* co.weights[y * co.ksize + t]
            }
            out[(y * cur.width + x) * ch + c] = clip8(ss)
          }
        }
      }
      cur = Image(width: cur.width, height: oh, layout: cur.layout, pixels: out)
    }
    return cur
  }
}
