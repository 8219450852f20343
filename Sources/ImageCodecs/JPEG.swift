// JPEG decoder: not implemented yet (issue 3 continues); files are refused with a clear error.

enum JPEG {
  static func decode(_ b: [UInt8], limits: DecodeLimits) throws(ImageError) -> Image {
    throw .unsupported("JPEG decoding is not implemented yet; convert the image to PNG")
  }
}
