// ImageError: every way an image file can be refused, with enough detail for a one-line message.

public enum ImageError: Error, Equatable, CustomStringConvertible {
  /// The bytes are not a format we read (magic number unknown).
  case unknownFormat
  /// The file is malformed: what was wrong, in words.
  case malformed(String)
  /// A valid file using a feature we do not implement.
  case unsupported(String)
  /// Declared dimensions above the pixel limit (decompression-bomb guard), checked before allocating.
  case tooLarge(width: Int, height: Int, limit: Int)

  public var description: String {
    switch self {
    case .unknownFormat: "not a PNG, JPEG or PPM/PGM file"
    case .malformed(let why): "malformed image: \(why)"
    case .unsupported(let what): "unsupported image: \(what)"
    case .tooLarge(let w, let h, let limit): "image is \(w)x\(h) = \(w * h) pixels, above the limit of \(limit) (--max-pixels)"
    }
  }
}

/// Limits applied while decoding untrusted files.
public struct DecodeLimits: Sendable, Equatable {
  /// Maximum width·height. Pillow's decompression-bomb error threshold is 2 × 89,478,485 pixels.
  public var maxPixels: Int
  public init(maxPixels: Int = 178_956_970) { self.maxPixels = maxPixels }

  func check(width: Int, height: Int) throws(ImageError) {
    guard width > 0, height > 0 else { throw .malformed("zero dimension \(width)x\(height)") }
    let (p, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, p <= maxPixels else { throw .tooLarge(width: width, height: height, limit: maxPixels) }
  }
}
