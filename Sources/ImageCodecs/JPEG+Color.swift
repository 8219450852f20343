// Upsampling and colour conversion as libjpeg-turbo does them (jdsample.c fancy upsampling for
// h2v1, h1v2 and h2v2; replication otherwise; jdcolor.c fixed-point YCbCr → RGB).

enum ColorConvert {
  /// Row `y` of a component at full resolution (`width` samples into `out`), using libjpeg's filters.
  /// Component rows live in a ring of `ring` rows (the full height when not streaming).
  static func upsampleRow(_ c: JPEG.Component, _ s: [UInt8], ring: Int, frame f: JPEG.Frame, y: Int, into out: inout [UInt8],
                          scratch: inout [UInt8]) {
    let hf = f.hmax / c.h, vf = f.vmax / c.v
    let stride = c.bw * 8
    // Downsampled size as libjpeg computes it: ceil(image size · sampling / max sampling).
    let dw = (f.width * c.h + f.hmax - 1) / f.hmax, dh = (f.height * c.v + f.vmax - 1) / f.vmax
    @inline(__always) func at(_ x: Int, _ y: Int) -> Int { Int(s[(y % ring) * stride + x]) }
    if hf == 1 && vf == 1 {
      for x in 0..<f.width { out[x] = s[(y % ring) * stride + x] }
    } else if hf == 2 && vf == 1 {
      h2v1Row({ at($0, y) }, dw, &scratch)
      for x in 0..<f.width { out[x] = scratch[x] }
    } else if hf == 1 && vf == 2 {
      let sy = y / 2
      let other = y % 2 == 0 ? max(sy - 1, 0) : min(sy + 1, dh - 1)   // context row, replicated at the edges
      // h1v2_fancy_upsample: (3·near + far + bias) >> 2, bias 1 on the upper output row, 2 on the lower.
      for x in 0..<f.width { out[x] = UInt8((at(x, sy) * 3 + at(x, other) + (y % 2 == 0 ? 1 : 2)) >> 2) }
    } else if hf == 2 && vf == 2 {
      let sy = y / 2
      let other = y % 2 == 0 ? max(sy - 1, 0) : min(sy + 1, dh - 1)
      h2v2Row({ at($0, sy) * 3 + at($0, other) }, dw, &scratch)
      for x in 0..<f.width { out[x] = scratch[x] }
    } else {
      // Other ratios: libjpeg replicates (int_upsample).
      for x in 0..<f.width { out[x] = s[((y / vf) % ring) * stride + x / hf] }
    }
  }

  /// h2v1_fancy_upsample on one row of `dw` samples.
  static func h2v1Row(_ inp: (Int) -> Int, _ dw: Int, _ out: inout [UInt8]) {
    // (out has room for 2·dw samples)
    if dw == 1 {
      out[0] = UInt8(inp(0)); out[1] = UInt8(inp(0))
      return
    }
    out[0] = UInt8(inp(0))
    out[1] = UInt8((inp(0) * 3 + inp(1) + 2) >> 2)
    for i in 1..<(dw - 1) {
      let v = inp(i) * 3
      out[2 * i] = UInt8((v + inp(i - 1) + 1) >> 2)
      out[2 * i + 1] = UInt8((v + inp(i + 1) + 2) >> 2)
    }
    let v = inp(dw - 1) * 3
    out[2 * dw - 2] = UInt8((v + inp(dw - 2) + 1) >> 2)
    out[2 * dw - 1] = UInt8(inp(dw - 1))
  }

  /// h2v2_fancy_upsample on one output row; `colsum(i)` = 3·nearer row + farther row at column i.
  static func h2v2Row(_ colsum: (Int) -> Int, _ dw: Int, _ out: inout [UInt8]) {
    if dw == 1 {
      let t = colsum(0)
      out[0] = UInt8((t * 4 + 8) >> 4); out[1] = UInt8((t * 4 + 7) >> 4)
      return
    }
    var this = colsum(0), next = colsum(1), last = this
    out[0] = UInt8((this * 4 + 8) >> 4)
    out[1] = UInt8((this * 3 + next + 7) >> 4)
    last = this; this = next
    for i in 1..<(dw - 1) {
      next = colsum(i + 1)
      out[2 * i] = UInt8((this * 3 + last + 8) >> 4)
      out[2 * i + 1] = UInt8((this * 3 + next + 7) >> 4)
      last = this; this = next
    }
    out[2 * dw - 2] = UInt8((this * 3 + last + 8) >> 4)
    out[2 * dw - 1] = UInt8((this * 4 + 7) >> 4)
  }

  /// Converts output rows (upsampling + colour) one at a time; holds one row per component.
  struct RowConverter {
    let rgbComponents: Bool
    var rows: [[UInt8]]
    var scratch: [UInt8]
    var crr = [Int](repeating: 0, count: 256), cbb = [Int](repeating: 0, count: 256)
    var crg = [Int](repeating: 0, count: 256), cbg = [Int](repeating: 0, count: 256)
    static let scale = 16

    init(width: Int, rgbComponents: Bool) {
      self.rgbComponents = rgbComponents
      rows = [[UInt8]](repeating: [UInt8](repeating: 0, count: width), count: 3)
      scratch = [UInt8](repeating: 0, count: 2 * width + 16)
      let half = 1 << (Self.scale - 1)
      func fix(_ x: Double) -> Int { Int(x * Double(1 << Self.scale) + 0.5) }
      for i in 0..<256 {
        let x = i - 128
        crr[i] = (fix(1.40200) * x + half) >> Self.scale
        cbb[i] = (fix(1.77200) * x + half) >> Self.scale
        crg[i] = -fix(0.71414) * x
        cbg[i] = -fix(0.34414) * x + half
      }
    }

    /// Writes output row y (gray: width bytes; colour: 3·width bytes) into `out`.
    mutating func convert(_ f: JPEG.Frame, y: Int, into out: inout [UInt8]) {
      if f.components.count == 1 {
        let c = f.components[0]
        let base = (y % f.ringRows[0]) * c.bw * 8
        f.samples[0].withUnsafeBufferPointer { s in
          for x in 0..<f.width { out[y * f.width + x] = s[base + x] }
        }
        return
      }
      for k in 0..<3 { upsampleRow(f.components[k], f.samples[k], ring: f.ringRows[k], frame: f, y: y, into: &rows[k], scratch: &scratch) }
      let o = 3 * y * f.width
      if rgbComponents {
        for x in 0..<f.width { out[o + 3 * x] = rows[0][x]; out[o + 3 * x + 1] = rows[1][x]; out[o + 3 * x + 2] = rows[2][x] }
      } else {
        @inline(__always) func clamp(_ v: Int) -> UInt8 { UInt8(min(max(v, 0), 255)) }
        for x in 0..<f.width {
          let yy = Int(rows[0][x]), cb = Int(rows[1][x]), cr = Int(rows[2][x])
          out[o + 3 * x] = clamp(yy + crr[cr])
          out[o + 3 * x + 1] = clamp(yy + ((cbg[cb] + crg[cr]) >> Self.scale))
          out[o + 3 * x + 2] = clamp(yy + cbb[cb])
        }
      }
    }
  }

  /// The last component row (in each component's own rows) that output row y reads, context included.
  static func lastSourceRow(_ c: JPEG.Component, frame f: JPEG.Frame, y: Int) -> Int {
    let vf = f.vmax / c.v, dh = (f.height * c.v + f.vmax - 1) / f.vmax
    let sy = y / vf
    return vf == 2 && y % 2 == 1 ? min(sy + 1, dh - 1) : sy
  }
}
