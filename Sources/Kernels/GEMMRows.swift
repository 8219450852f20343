// GEMMRows: how a GEMM problem addresses the rows of its A operand.
/// Where a GEMM reads row i of segment s of its A: a stride from one pointer (a Linear's rows: no closure,
/// so nothing allocated per call) or a function (a conv's taps, padded or streamed rows).
public enum GEMMRows<Element> {
  case strided(UnsafePointer<Element>, Int)
  case indexed((Int, Int) -> UnsafePointer<Element>)

  @inline(__always) public func callAsFunction(_ i: Int, _ s: Int) -> UnsafePointer<Element> {
    switch self {
    case .strided(let a, let stride): a + i * stride
    case .indexed(let row): row(i, s)
    }
  }
}
