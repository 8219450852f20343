// Overlay: the picture a person looks at: the photo blended with one colour per segment (by label:
// the same class has the same colour in every image and frame), outlines where segments meet, and a
// legend of colour, label and score in a band below the photo.
import Imaging
import MaskFormerInt8

public enum Overlay {
  /// A stable, well-separated colour per label id (golden-ratio hue steps, full saturation).
  public static func color(label: Int) -> (UInt8, UInt8, UInt8) {
    let h = (Double(label) * 0.618033988749895 + 0.1).truncatingRemainder(dividingBy: 1) * 6
    let s = 0.85, v = 0.95
    let i = Int(h), f = h - Double(i)
    let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
    let (r, g, b): (Double, Double, Double)
    switch i % 6 {
    case 0: (r, g, b) = (v, t, p)
    case 1: (r, g, b) = (q, v, p)
    case 2: (r, g, b) = (p, v, t)
    case 3: (r, g, b) = (p, q, v)
    case 4: (r, g, b) = (t, p, v)
    default: (r, g, b) = (v, p, q)
    }
    return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
  }

  /// photo: RGB at the segmentation's size. `alpha` is the colour's weight inside segments. With `legend`
  /// the result is taller than the photo by `legendLayout(...).height` (the legend band below it);
  /// without, the photo's size (video frames).
  public static func render(photo: Image, segmentation s: Segmentation, labels: [String], alpha: Double = 0.5,
                            legend: Bool = true) -> Image {
    var px: [UInt8] = [], colors = Colors()
    paint(photo: photo, segmentation: s, alpha: alpha, into: &px, colors: &colors)
    let (w, h) = (s.width, s.height)
    guard legend else { return Image(width: w, height: h, layout: .rgb, pixels: px) }
    return withLegend(px, width: w, height: h, segmentation: s, labels: labels)
  }

  /// Segment id → colour (by label, so one class keeps one colour); unlisted ids stay unpainted.
  public typealias Colors = [Int32: (UInt8, UInt8, UInt8)]

  /// The blended photo (`render` without a legend) into `px`, with `colors` as its id → colour table: both
  /// keep their storage from call to call (a video's frames: no heap allocation per frame).
  public static func paint(photo: Image, segmentation s: Segmentation, alpha: Double = 0.5, into px: inout [UInt8], colors colorOf: inout Colors) {
    precondition(photo.layout == .rgb && photo.width == s.width && photo.height == s.height, "overlay: photo and map sizes differ")
    px.removeAll(keepingCapacity: true)
    px.append(contentsOf: photo.pixels)
    colorOf.removeAll(keepingCapacity: true)
    for seg in s.segments where colorOf[Int32(seg.id)] == nil { colorOf[Int32(seg.id)] = color(label: seg.labelId) }
    let (w, h) = (s.width, s.height)
    for y in 0..<h {
      for x in 0..<w {
        let id = s.map[y * w + x]
        guard let c = colorOf[id] else { continue }
        let edge = (x > 0 && s.map[y * w + x - 1] != id) || (x + 1 < w && s.map[y * w + x + 1] != id)
          || (y > 0 && s.map[(y - 1) * w + x] != id) || (y + 1 < h && s.map[(y + 1) * w + x] != id)
        let a = edge ? 1.0 : alpha
        let o = 3 * (y * w + x)
        let cc = edge ? (c.0 / 2, c.1 / 2, c.2 / 2) : c
        px[o] = UInt8(Double(px[o]) * (1 - a) + Double(cc.0) * a)
        px[o + 1] = UInt8(Double(px[o + 1]) * (1 - a) + Double(cc.1) * a)
        px[o + 2] = UInt8(Double(px[o + 2]) * (1 - a) + Double(cc.2) * a)
      }
    }
  }

  /// The blended photo `px` (`width × height`) with the legend band below it.
  private static func withLegend(_ px: [UInt8], width w: Int, height h: Int, segmentation s: Segmentation, labels: [String]) -> Image {
    // Legend: one entry per segment (first entry per id) in a dark band below the photo, never over it,
    // as many columns as fit; text scaled with the image's width (5x7 glyphs, 1 px each up to 400 px).
    var lines: [(String, (UInt8, UInt8, UInt8))] = []
    var seen = Set<Int>()
    for seg in s.segments where seen.insert(seg.id).inserted {
      let name = seg.labelId < labels.count ? labels[seg.labelId] : "label \(seg.labelId)"
      let score = seg.score.map { " " + String(Int(($0 * 100).rounded())) + "%" } ?? ""
      lines.append((String((name + score).prefix(40)), color(label: seg.labelId)))
    }
    if lines.isEmpty { lines = [("no segments", (200, 200, 200))] }
    let layout = legendLayout(width: w, entries: lines.map(\.0.count))
    let (scale, lineH, colW) = (layout.scale, layout.lineHeight, layout.columnWidth)
    var out = Image(width: w, height: h + layout.height, layout: .rgb, pixels: px + [UInt8](repeating: 24, count: 3 * w * layout.height))
    for (i, (text, c)) in lines.enumerated() {
      let x = 2 * scale + (i / layout.rows) * colW, top = h + 2 * scale + (i % layout.rows) * lineH
      fill(&out, x: x, y: top, w: 7 * scale, h: 7 * scale, c)
      draw(text, into: &out, x: x + 9 * scale, y: top, scale: scale, maxX: x + colW - scale)
    }
    return out
  }

  /// Where `render` puts the legend of entries of these character counts under a photo `width` wide:
  /// the glyph scale, line height, column width, rows per column and the band's height in pixels.
  public static func legendLayout(width w: Int, entries: [Int]) -> (scale: Int, lineHeight: Int, columnWidth: Int, rows: Int, height: Int) {
    let scale = Swift.max(1, w / 400), lineH = 10 * scale
    let longest = Swift.max(4, entries.max() ?? 0)
    // A column: swatch, gap, text, gap; as wide as the longest entry, never wider than the band.
    let colW = Swift.min(Swift.max(1, w - 4 * scale), (9 + 6 * longest + 6) * scale)
    let columns = Swift.max(1, (w - 4 * scale) / colW)
    let rows = (Swift.max(1, entries.count) + columns - 1) / columns
    return (scale, lineH, colW, rows, rows * lineH + 4 * scale)
  }

  static func fill(_ img: inout Image, x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
    for yy in max(0, y)..<min(img.height, y + h) {
      for xx in max(0, x)..<min(img.width, x + w) {
        let o = 3 * (yy * img.width + xx)
        img.pixels[o] = c.0; img.pixels[o + 1] = c.1; img.pixels[o + 2] = c.2
      }
    }
  }

  static func draw(_ text: String, into img: inout Image, x: Int, y: Int, scale: Int, maxX: Int) {
    var cx = x
    for ch in text {
      if cx + 5 * scale > Swift.min(maxX, img.width) { return }
      for col in 0..<5 {
        let bits = Font5x7.column(ch, col)
        for row in 0..<8 where bits & (1 << row) != 0 {
          fill(&img, x: cx + col * scale, y: y + row * scale, w: scale, h: scale, (255, 255, 255))
        }
      }
      cx += 6 * scale
    }
  }
}
