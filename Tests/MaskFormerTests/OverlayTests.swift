// Overlay (issue 19): the legend lies in a band below the photo, never over it, fits any width, and a
// label has the same colour in every image.
import Imaging
import MaskFormerInt8
import Rendering
import Testing

@Suite struct OverlayTests {
  /// A w x h segmentation: a left half of label 3 (segment 1), the right half unlabelled (-1).
  func halves(_ w: Int, _ h: Int, segments extra: Int = 0) -> Segmentation {
    var map = [Int32](repeating: -1, count: w * h)
    for y in 0..<h { for x in 0..<(w / 2) { map[y * w + x] = 1 } }
    var segs = [Segment(id: 1, labelId: 3, score: 0.97, wasFused: false)]
    for k in 0..<extra { segs.append(Segment(id: 10 + k, labelId: k % 7, score: 0.5, wasFused: false)) }
    return Segmentation(task: .panoptic, width: w, height: h, map: map, segments: segs)
  }

  @Test(arguments: [(16, 9), (128, 128), (640, 480), (2048, 64)])
  func legendIsBelowThePhoto(_ size: (Int, Int)) {
    let (w, h) = size
    let photo = Image(width: w, height: h, layout: .rgb, pixels: (0..<(3 * w * h)).map { UInt8(truncatingIfNeeded: $0 * 7) })
    for extra in [0, 30] {
      let s = halves(w, h, segments: extra)
      let labels = (0..<8).map { "label-\($0)-with-a-long-name" }
      let out = Overlay.render(photo: photo, segmentation: s, labels: labels)
      let band = Overlay.legendLayout(width: w, entries: [])
      #expect(out.width == w && out.height > h, "\(w)x\(h): the legend adds a band (\(out.width)x\(out.height))")
      #expect(out.height - h >= band.lineHeight, "room for at least one line")
      // Unlabelled photo pixels (right half, away from the segment's edge) are untouched: nothing is drawn over them.
      var touched = 0
      for y in 0..<h {
        for x in (w / 2 + 1)..<w {
          let o = 3 * (y * w + x)
          for c in 0..<3 where out.pixels[o + c] != photo.pixels[o + c] { touched += 1 }
        }
      }
      #expect(touched == 0, "\(w)x\(h), \(extra) extra segments: \(touched) photo values changed outside segments")
      let noLegend = Overlay.render(photo: photo, segmentation: s, labels: labels, legend: false)
      #expect(noLegend.width == w && noLegend.height == h)
      #expect(Array(out.pixels[0..<(3 * w * h)]) == noLegend.pixels, "the photo part is the same with and without the legend")
    }
  }

  @Test func colorsAreStablePerLabelAndDistinct() {
    #expect(Overlay.color(label: 5) == Overlay.color(label: 5))
    let first = (0..<20).map { Overlay.color(label: $0) }
    for i in 0..<20 { for j in (i + 1)..<20 { #expect(first[i] != first[j], "labels \(i) and \(j) share a colour") } }
  }
}
