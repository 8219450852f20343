// QuantParams and requantization: the scalar definitions every int8 kernel must match bit for bit.

/// Affine int8 quantization: `real = scale · (q − zeroPoint)`.
public struct QuantParams: Sendable, Equatable, Hashable {
  public var scale: Float
  public var zeroPoint: Int32

  public init(scale: Float, zeroPoint: Int32) {
    self.scale = scale
    self.zeroPoint = zeroPoint
  }

  /// `q = clamp(roundHalfEven(x / scale) + zeroPoint, −128, 127)`.
  @inlinable public func quantize(_ x: Float) -> Int8 {
    let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
    return Int8(Swift.min(Swift.max(q, -128), 127))
  }

  /// `real = scale · (q − zeroPoint)`.
  @inlinable public func dequantize(_ q: Int8) -> Float { scale * Float(Int32(q) - zeroPoint) }
}

/// `q = clamp(roundHalfEven(Float(acc)·scale) + zeroPoint, min, max)` (XNNPACK's fp32 requantization).
@inlinable
public func requantize(_ acc: Int32, scale: Float, zeroPoint: Int32, min: Int8 = -128, max: Int8 = 127) -> Int8 {
  precondition(scale > 0 && scale < 256, "requantize: scale \(scale) outside (0, 256)")
  let lo = Float(Int32(min) - zeroPoint), hi = Float(Int32(max) - zeroPoint)
  let x = Swift.min(Swift.max(Float(acc) * scale, lo), hi)  // integer bounds: clamping first is exact
  return Int8(Int32(x.rounded(.toNearestOrEven)) + zeroPoint)
}
