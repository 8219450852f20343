// PreprocessorConfig: MaskFormerImageProcessor's inference settings, typed. Decoded from
// preprocessor_config.json by the Converter (both transformers-4 legacy keys and v5 keys).

public struct PreprocessorConfig: Sendable, Equatable {
  /// The `size` rule of the resize.
  public enum Size: Sendable, Equatable {
    /// Shortest edge S, optionally capped so that the longest edge stays <= L.
    case shortestEdge(Int, longestEdge: Int?)
    /// A fixed output size.
    case fixed(height: Int, width: Int)
    /// Scale to fit inside the box, keeping the aspect ratio.
    case maxSize(height: Int, width: Int)
  }

  public var doResize: Bool
  public var size: Size
  /// Output sizes are rounded up to a multiple of this (0: no rounding).
  public var sizeDivisor: Int
  /// PIL resample filter id (2 = BILINEAR).
  public var resample: Int
  public var doRescale: Bool
  public var rescaleFactor: Double
  public var doNormalize: Bool
  public var imageMean: [Float]
  public var imageStd: [Float]

  public init(doResize: Bool = true, size: Size = .shortestEdge(800, longestEdge: 1333), sizeDivisor: Int = 32,
              resample: Int = 2, doRescale: Bool = true, rescaleFactor: Double = 1.0 / 255.0, doNormalize: Bool = true,
              imageMean: [Float] = [0.485, 0.456, 0.406], imageStd: [Float] = [0.229, 0.224, 0.225]) {
    self.doResize = doResize
    self.size = size
    self.sizeDivisor = sizeDivisor
    self.resample = resample
    self.doRescale = doRescale
    self.rescaleFactor = rescaleFactor
    self.doNormalize = doNormalize
    self.imageMean = imageMean
    self.imageStd = imageStd
  }

  /// The same rule at another scale (`--size N`): shortest edge N, the longest-edge cap scaled alike
  /// (512/2048 at N = 1024 becomes 1024/4096); a fixed or max size becomes N on its shorter side.
  public func resized(shortestEdge n: Int) -> PreprocessorConfig {
    var c = self
    c.doResize = true
    switch size {
    case .shortestEdge(let s, let l):
      c.size = .shortestEdge(n, longestEdge: l.map { Int((Double($0) * Double(n) / Double(s)).rounded()) })
    case .fixed(let h, let w):
      c.size = h <= w ? .fixed(height: n, width: Int((Double(w) * Double(n) / Double(h)).rounded()))
                      : .fixed(height: Int((Double(h) * Double(n) / Double(w)).rounded()), width: n)
    case .maxSize(let h, let w):
      let s = min(h, w)
      c.size = .maxSize(height: h * n / s, width: w * n / s)
    }
    return c
  }
}
