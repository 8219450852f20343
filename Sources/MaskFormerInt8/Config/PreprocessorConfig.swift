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
}
