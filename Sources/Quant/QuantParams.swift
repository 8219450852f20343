// QuantParams: the scalar definitions of quantizing and dequantizing that every int8 kernel and
// epilogue matches bit for bit (ActivationQuantizer, the int8 GEMM epilogues; KernelsTests pins them).

/// Affine int8 quantization: `real = scale · (q − zeroPoint)`.
public struct QuantParams: Sendable, Equatable, Hashable {
  public var scale: Float
  public var zeroPoint: Int32

  public init(scale: Float, zeroPoint: Int32) {
    self.scale = scale
    self.zeroPoint = zeroPoint
  }

  /// `1 / scale`, in float: quantizing multiplies by it (no division in any kernel; ONNX Runtime's and
  /// XNNPACK's requantization do the same).
  @inlinable public var inverseScale: Float { 1 / scale }

  /// `q = clamp(roundHalfEven(x · (1 / scale)) + zeroPoint, −128, 127)`.
  @inlinable public func quantize(_ x: Float) -> Int8 {
    let q = (x * inverseScale).rounded(.toNearestOrEven) + Float(zeroPoint)
    return Int8(Swift.min(Swift.max(q, -128), 127))
  }

  /// `real = scale · (q − zeroPoint)`.
  @inlinable public func dequantize(_ q: Int8) -> Float { scale * Float(Int32(q) - zeroPoint) }
}
