// GEMMRows: how a GEMM problem addresses the rows of its A operand.
/// Where a GEMM reads row i of segment s of its A: a stride from one pointer (a Linear's rows), a
/// convolution's taps (`ConvRows`; neither makes a closure, so nothing is allocated per call) or a function.
public enum GEMMRows<Element> {
  case strided(UnsafePointer<Element>, Int)
  case conv(ConvRows<Element>)
  case indexed((Int, Int) -> UnsafePointer<Element>)

  @inline(__always) public func callAsFunction(_ i: Int, _ s: Int) -> UnsafePointer<Element> {
    switch self {
    case .strided(let a, let stride): a + i * stride
    case .conv(let rows): rows(i, s)
    case .indexed(let row): row(i, s)
    }
  }
}

/// The rows of a convolution as an implicit GEMM (one segment per tap): output pixel i (map row
/// `y0 + i / width`, column `i % width`) reads, for tap t, the input pixel `t / kernel − pad` rows and
/// `t % kernel − pad` columns away; a map row r is stored at `base + ((r − first)·width + x)·pixelStride`
/// (a band from row `first`), and a pixel outside the map's `mapHeight` rows or `width` columns reads `zero`.
public struct ConvRows<Element> {
  public let base: UnsafePointer<Element>, zero: UnsafePointer<Element>
  public let pixelStride: Int, width: Int, mapHeight: Int, first: Int, y0: Int, kernel: Int

  public init(base: UnsafePointer<Element>, zero: UnsafePointer<Element>, pixelStride: Int, width: Int, mapHeight: Int, first: Int, y0: Int,
              kernel: Int) {
    (self.base, self.zero, self.pixelStride, self.width, self.mapHeight) = (base, zero, pixelStride, width, mapHeight)
    (self.first, self.y0, self.kernel) = (first, y0, kernel)
  }

  @inline(__always) public func callAsFunction(_ i: Int, _ t: Int) -> UnsafePointer<Element> {
    let pad = kernel / 2
    let sy = y0 + i / width + t / kernel - pad, sx = i % width + t % kernel - pad
    return sy >= 0 && sy < mapHeight && sx >= 0 && sx < width ? base + ((sy - first) * width + sx) * pixelStride : zero
  }
}
