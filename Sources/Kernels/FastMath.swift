// FastMath: branch-free float functions that the compiler vectorizes inside plain loops, with their
// accuracy pinned against libm by tests (KernelsTests/ActivationTests).

public enum FastMath {
  /// eˣ for x in [−87.3, 88.7] (clamped outside): x = n·ln2 + r with n = roundHalfEven(x·log₂e), a
  /// degree-6 polynomial for eʳ (Cephes `expf` coefficients), then scaling by 2ⁿ through the exponent
  /// bits. Max relative error ~2e-7 against expf.
  @inlinable @inline(__always) public static func exp(_ v: Float) -> Float {
    let x = Swift.min(Swift.max(v, -87.3), 88.7)
    let magic: Float = 0x1.8p23                       // adding it rounds to an integer, half to even
    let n = (x * 1.44269504088896341 + magic) - magic
    let r = x - n * 0.693359375 + n * 2.12194440e-4    // ln2 split hi/lo: x − n·ln2 without cancellation loss
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    // 2ⁿ: n + 127 lands in the low mantissa bits of (n + 127 + magic); shift them into the exponent.
    let scale = Float(bitPattern: (n + (magic + 127)).bitPattern << 23)
    return y * scale
  }

  /// Softmax over `count` floats in place: max-subtracted exponentials, normalized by their sum.
  @inlinable public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var m = -Float.infinity
    for j in 0..<count { m = Swift.max(m, x[j]) }
    for j in 0..<count { x[j] = exp(x[j] - m) }
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var j = 0
    while j + 4 <= count {
      s0 += x[j]; s1 += x[j + 1]; s2 += x[j + 2]; s3 += x[j + 3]
      j += 4
    }
    while j < count { s0 += x[j]; j += 1 }
    let inv = 1 / ((s0 + s1) + (s2 + s3))
    for j in 0..<count { x[j] *= inv }
  }
}
