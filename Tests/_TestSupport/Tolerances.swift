// Tolerances: every tolerance the tests use, with the reason it is what it is.

public enum Tolerance {
  /// Float path vs transformers, per tensor: max |ours − ref| <= this × max(1, max |ref|). Both sides are
  /// float32 but sum in different orders (blocked GEMM, float64 norm statistics, FMA or not); 1e-4 is
  /// the acceptance bar of the float-parity issue and sits ~100× above the errors we see (~1e-6).
  public static let floatGolden: Float = 1e-4
  /// Segment scores vs transformers: both round to 6 decimals, so a float32 score one ulp away across a
  /// rounding boundary shows as one step, 1e-6 (plus the double representation error of that step).
  public static let segmentScore = 1e-6 + 1e-12
  /// f32 GEMM tiers vs the reference loop, relative to Σ|a·b| of the output: FMA vs separate rounding and
  /// a different summation order change each product's rounding by at most 2^-24 per term; K·2^-23 bounds it.
  public static func f32GEMM(k: Int) -> Float { Float(k) * 0x1p-23 }
}
