// Upsampling and colour conversion as libjpeg-turbo does them (jdsample.c fancy upsampling for
// h2v1, h1v2 and h2v2; replication otherwise; jdcolor.c fixed-point YCbCr → RGB).

enum ColorConvert {
  /// Component plane at full resolution, `width × height`, using libjpeg's filters.
  static func upsample(_ c: JPEG.Component, frame f: JPEG.Frame) -> [UInt8] {
    let hf = f.hmax / c.h, vf = f.vmax / c.v
    let stride = c.bw * 8
    // Downsampled size as libjpeg computes it: ceil(image size · sampling / max sampling).
    let dw = (f.width * c.h + f.hmax - 1) / f.hmax, dh = (f.height * c.v + f.vmax - 1) / f.vmax
    var out = [UInt8](repeating: 0, count: f.width * f.height)
    let s = c.samples
    func at(_ x: Int, _ y: Int) -> Int { Int(s[y * stride + x]) }
    if hf == 1 && vf == 1 {
      for y in 0..<f.height { for x in 0..<f.width { out[y * f.width + x] = s[y * stride + x] } }
    } else if hf == 2 && vf == 1 && dw >= 1 {
      for y in 0..<f.height {
        var row = [UInt8](repeating: 0, count: 2 * dw + 2)
        h2v1Row({ at($0, y) }, dw, &row)
        for x in 0..<f.width { out[y * f.width + x] = row[x] }
      }
    } else if hf == 1 && vf == 2 {
      for y in 0..<f.height {
        let sy = y / 2
        let other = y % 2 == 0 ? max(sy - 1, 0) : min(sy + 1, dh - 1)   // context row, replicated at the edges
        for x in 0..<f.width {
          // h1v2_fancy_upsample: (3·near + far + 1 or 2) >> 2 (bias 1 on the upper output row, 2 on the lower).
          let v = at(x, sy) * 3 + at(x, other)
          out[y * f.width + x] = UInt8((v + (y % 2 == 0 ? 1 : 2)) >> 2)
        }
      }
    } else if hf == 2 && vf == 2 {
      for y in 0..<f.height {
        let sy = y / 2
        let other = y % 2 == 0 ? max(sy - 1, 0) : min(sy + 1, dh - 1)
        var row = [UInt8](repeating: 0, count: 2 * dw + 2)
        h2v2Row({ at($0, sy) * 3 + at($0, other) }, dw, &row)
        for x in 0..<f.width { out[y * f.width + x] = row[x] }
      }
    } else {
      // Other ratios: libjpeg replicates (int_upsample).
      for y in 0..<f.height { for x in 0..<f.width { out[y * f.width + x] = s[(y / vf) * stride + x / hf] } }
    }
    return out
  }

  /// h2v1_fancy_upsample on one row of `dw` samples.
  static func h2v1Row(_ inp: (Int) -> Int, _ dw: Int, _ out: inout [UInt8]) {
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

  static func toImage(_ f: JPEG.Frame, rgbComponents: Bool, orientation: Int) throws(ImageError) -> Image {
    let n = f.width * f.height
    if f.components.count == 1 {
      let c = f.components[0]
      var out = [UInt8](repeating: 0, count: n)
      let stride = c.bw * 8
      for y in 0..<f.height { for x in 0..<f.width { out[y * f.width + x] = c.samples[y * stride + x] } }
      return Image(width: f.width, height: f.height, layout: .gray, pixels: out, orientation: orientation)
    }
    let planes = f.components.map { upsample($0, frame: f) }
    var out = [UInt8](repeating: 0, count: 3 * n)
    if rgbComponents {
      for i in 0..<n { out[3 * i] = planes[0][i]; out[3 * i + 1] = planes[1][i]; out[3 * i + 2] = planes[2][i] }
    } else {
      let scale = 16, half = 1 << (scale - 1)
      func fix(_ x: Double) -> Int { Int(x * Double(1 << scale) + 0.5) }
      var crr = [Int](repeating: 0, count: 256), cbb = crr, crg = crr, cbg = crr
      for i in 0..<256 {
        let x = i - 128
        crr[i] = (fix(1.40200) * x + half) >> scale
        cbb[i] = (fix(1.77200) * x + half) >> scale
        crg[i] = -fix(0.71414) * x
        cbg[i] = -fix(0.34414) * x + half
      }
      @inline(__always) func clamp(_ v: Int) -> UInt8 { UInt8(min(max(v, 0), 255)) }
      for i in 0..<n {
        let y = Int(planes[0][i]), cb = Int(planes[1][i]), cr = Int(planes[2][i])
        out[3 * i] = clamp(y + crr[cr])
        out[3 * i + 1] = clamp(y + ((cbg[cb] + crg[cr]) >> scale))
        out[3 * i + 2] = clamp(y + cbb[cb])
      }
    }
    return Image(width: f.width, height: f.height, layout: .rgb, pixels: out, orientation: orientation)
  }
}
