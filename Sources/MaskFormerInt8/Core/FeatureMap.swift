// FeatureMap: an activation in an arena (or on the heap), channels last (NHWC with N = 1): element (y, x, c) is
// data[(y·width + x)·channels + c]. Token sequences are maps of height 1.

public struct FeatureMap: Equatable, Sendable {
  public var height: Int
  public var width: Int
  public var channels: Int
  public var data: ArenaArray<Float>

  public init(height: Int, width: Int, channels: Int, data: ArenaArray<Float>) {
    precondition(data.count == height * width * channels,
                 "FeatureMap \(height)x\(width)x\(channels) needs \(height * width * channels) floats, got \(data.count)")
    self.height = height
    self.width = width
    self.channels = channels
    self.data = data
  }

  /// A copy of `data` on the heap.
  public init(height: Int, width: Int, channels: Int, data: [Float]) {
    self.init(height: height, width: width, channels: channels, data: ArenaArray(data))
  }

  /// Zeros.
  public init(height: Int, width: Int, channels: Int, in arena: Arena? = nil) {
    self.init(height: height, width: width, channels: channels,
              data: ArenaArray(repeating: 0, count: height * width * channels, in: arena))
  }

  /// Left for `initialize` to write, every element (no zero fill first). From a dry-run arena,
  /// `initialize` runs and must not touch the elements (`ArenaArray(unsafeUninitializedCount:)`).
  init(height: Int, width: Int, channels: Int, in arena: Arena?, writingEvery initialize: (UnsafeMutableBufferPointer<Float>) -> Void) {
    self.init(height: height, width: width, channels: channels,
              data: ArenaArray(unsafeUninitializedCount: height * width * channels, in: arena, initializingWith: initialize))
  }

  public var pixels: Int { height * width }

  /// Converts from NCHW (torch's layout) to this layout.
  public init(nchw: [Float], channels: Int, height: Int, width: Int) {
    var out = [Float](repeating: 0, count: nchw.count)
    for c in 0..<channels {
      for p in 0..<(height * width) { out[p * channels + c] = nchw[c * height * width + p] }
    }
    self.init(height: height, width: width, channels: channels, data: out)
  }

  /// This map in NCHW order.
  public var nchw: [Float] {
    var out = [Float](repeating: 0, count: data.count)
    for p in 0..<pixels {
      for c in 0..<channels { out[c * pixels + p] = data[p * channels + c] }
    }
    return out
  }
}
