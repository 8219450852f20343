// QGEMMPanelLayout: the `qgemm_i8x4_n16` packed int8 weight layout in one place (docs/FORMAT.md). Panels
// of 16 output channels; per panel, in one sequential block:
//   Int32 bias ×16 | Int32 Σ_k q[c][k] ×16 | Float32 s_w[c] ×16 | Int8 q as [Kp/4][16][4]
// with Kp = K rounded up to 4 (zeros past K and past N): 192 + 16·Kp bytes, a multiple of 64, so a
// 64-byte aligned tensor keeps every panel and every 64-byte group of 4 k for 16 channels aligned. The
// C microkernels read one group as 64 bytes (`w + q * 64`); KernelsTests pins these constants.

public enum QGEMMPanelLayout {
  /// Output channels per panel (the microkernels' NR).
  public static let channels = 16
  /// Consecutive k of one channel stored together (one vpdpbusd / sdot lane).
  public static let kGroup = 4
  /// Byte offsets inside a panel.
  public static let biasOffset = 0
  public static let columnSumOffset = 64
  public static let scaleOffset = 128
  public static let weightsOffset = 192
  /// Bytes of one group of `kGroup` k for all `channels` channels.
  public static let groupBytes = channels * kGroup

  /// K rounded up to a whole group.
  public static func paddedK(_ k: Int) -> Int { (k + kGroup - 1) / kGroup * kGroup }
  public static func panels(n: Int) -> Int { (n + channels - 1) / channels }
  public static func panelBytes(k: Int) -> Int { weightsOffset + channels * paddedK(k) }

  /// Bytes of packed `[n, k]` weights, nil on overflow or a negative dimension.
  public static func byteCount(n: Int, k: Int) -> Int? {
    guard n >= 0, k >= 0, n <= Int.max - channels, k <= Int.max - kGroup else { return nil }
    let (body, o1) = channels.multipliedReportingOverflow(by: paddedK(k))
    let (per, o2) = body.addingReportingOverflow(weightsOffset)
    let (total, o3) = panels(n: n).multipliedReportingOverflow(by: per)
    return o1 || o2 || o3 ? nil : total
  }

  /// Byte offset, inside its panel, of the weight of channel `j` (< 16) at reduction index `kk`.
  public static func weightOffset(channel j: Int, k kk: Int) -> Int {
    weightsOffset + (kk / kGroup) * groupBytes + j * kGroup + kk % kGroup
  }
}
