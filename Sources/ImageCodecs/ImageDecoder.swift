// ImageDecoder: the format chosen by magic number. `Image` itself lives in Imaging (re-exported here),
// so the model runtime depends on the image type, not on the decoders.
@_exported import Imaging

/// Decodes PNG, JPEG or binary PPM/PGM bytes, chosen by magic number.
public enum ImageDecoder {
  public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(ImageError) -> Image {
    if bytes.starts(with: PNG.signature) { return try PNG.decode(bytes, limits: limits) }
    if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
      return try JPEG.decode(bytes, limits: limits)
    }
    if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6")) {
      return try PNM.decode(bytes, limits: limits)
    }
    throw .unknownFormat
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An image file that cannot be read or decoded: the path and why.
public struct ImageFileError: Error, Equatable, CustomStringConvertible {
  public enum Reason: Equatable, Sendable {
    /// The file cannot be opened or read.
    case unreadable
    /// The bytes are not a decodable image.
    case image(ImageError)
  }
  public var path: String
  public var reason: Reason

  public var description: String {
    switch reason {
    case .unreadable: "\(path): cannot read file"
    case .image(let e): "\(path): \(e)"
    }
  }
}

extension ImageDecoder {
  /// Reads and decodes the file at `path` (PNG, JPEG, PPM/PGM).
  public static func decode(contentsOfFile path: String, limits: DecodeLimits = DecodeLimits()) throws(ImageFileError) -> Image {
    guard let bytes = readFile(path) else { throw ImageFileError(path: path, reason: .unreadable) }
    do { return try decode(bytes, limits: limits) } catch { throw ImageFileError(path: path, reason: .image(error)) }
  }

  static func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
      if n > 0 { out += chunk[0..<n] }
      if n < chunk.count { return ferror(f) != 0 ? nil : out }
    }
  }
}
