// OutputWriter: everything `edge-seg run MODEL IMAGE` writes: segments.json (also on stdout with
// --json), one 0/255 PNG mask per segment at the original size, a COCO-panoptic PNG with its
// segments_info JSON (panoptic task), and overlay.png. All files are staged in a temporary directory
// and moved into place at the end, so a failure leaves no partial output.
import Converter
import EdgeSeg
import Foundation
import Rendering

struct RunReport: Encodable {
  struct ImageInfo: Encodable { var path: String; var width: Int; var height: Int }
  struct ModelInfo: Encodable { var path: String; var precision: String; var input_size: [Int]; var threads: Int; var kernels: String }
  struct SegmentInfo: Encodable {
    var id: Int; var label: String; var label_id: Int; var score: Double?; var area: Int; var bbox: [Int]; var mask: String
    enum CodingKeys: String, CodingKey { case id, label, label_id, score, area, bbox, mask }
    func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(id, forKey: .id); try c.encode(label, forKey: .label); try c.encode(label_id, forKey: .label_id)
      try c.encode(score, forKey: .score)  // null for semantic segments, as the pipeline's None
      try c.encode(area, forKey: .area); try c.encode(bbox, forKey: .bbox); try c.encode(mask, forKey: .mask)
    }
  }
  var image: ImageInfo
  var model: ModelInfo
  var task: String
  var thresholds: [String: Double]
  var timings_ms: [String: Double]
  var segments: [SegmentInfo]
  var panoptic_png: String?
  var overlay_png: String
}

struct COCOPanoptic: Encodable {
  struct Info: Encodable { var id: Int; var category_id: Int; var area: Int; var bbox: [Int]; var iscrowd: Int }
  var file_name: String
  var height: Int
  var width: Int
  var segments_info: [Info]
}

enum OutputWriter {
  static func maskName(_ index: Int, _ label: String) -> String {
    let safe = String(label.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.prefix(40))
    return String(format: "mask_%03d_%@.png", index, safe)
  }

  /// Writes every output into `dir` and returns segments.json's bytes.
  static func write(result: SegmentationResult, photo: Image, report: RunReport, to dir: String) throws -> Data {
    let fm = FileManager.default
    let s = result.segmentation
    if fm.fileExists(atPath: dir) {
      let contents = try fm.contentsOfDirectory(atPath: dir)
      guard contents.isEmpty || contents.contains("segments.json") else {
        throw OutputError("\(dir): exists and is not an edge-seg output directory (no segments.json); choose another --output")
      }
    }
    let stage = dir.hasSuffix("/") ? String(dir.dropLast()) + ".tmp-\(getpid())" : dir + ".tmp-\(getpid())"
    try? fm.removeItem(atPath: stage)
    do {
      try fm.createDirectory(atPath: stage, withIntermediateDirectories: true)
    } catch {
      throw WriteError(path: dir, error)
    }
    do {
      func save(_ name: String, _ bytes: [UInt8]) throws { try writeFileContents(stage + "/" + name, bytes) }
      var seen = Set<Int>()
      for (i, seg) in s.segments.enumerated() where seen.insert(seg.id).inserted {
        var mask = [UInt8](repeating: 0, count: s.width * s.height)
        for p in 0..<mask.count where s.map[p] == Int32(seg.id) { mask[p] = 255 }
        try save(report.segments[i].mask, PNG.encode(Image(width: s.width, height: s.height, layout: .gray, pixels: mask)))
      }
      if s.task == .panoptic {
        var rgb = [UInt8](repeating: 0, count: 3 * s.width * s.height)
        for p in 0..<(s.width * s.height) {
          let id = max(0, Int(s.map[p]))
          rgb[3 * p] = UInt8(id % 256); rgb[3 * p + 1] = UInt8(id / 256 % 256); rgb[3 * p + 2] = UInt8(id / 65536 % 256)
        }
        try save("panoptic.png", PNG.encode(Image(width: s.width, height: s.height, layout: .rgb, pixels: rgb)))
        var infos: [COCOPanoptic.Info] = []
        var done = Set<Int>()
        for seg in s.segments where done.insert(seg.id).inserted {
          infos.append(.init(id: seg.id, category_id: seg.labelId, area: seg.area,
                             bbox: [seg.box.x, seg.box.y, seg.box.width, seg.box.height], iscrowd: 0))
        }
        let coco = COCOPanoptic(file_name: "panoptic.png", height: s.height, width: s.width, segments_info: infos)
        try save("panoptic.json", Array(try encoder().encode(coco)))
      }
      try save("overlay.png", PNG.encode(Overlay.render(photo: photo, segmentation: s, labels: result.labels)))
      let json = try encoder().encode(report)
      try save("segments.json", Array(json) + [10])
      // Move into place: replace a previous edge-seg output wholesale, so no stale masks remain.
      if fm.fileExists(atPath: dir) {
        let old = stage + ".old"
        try fm.moveItem(atPath: dir, toPath: old)
        try fm.moveItem(atPath: stage, toPath: dir)
        try? fm.removeItem(atPath: old)
      } else {
        try fm.moveItem(atPath: stage, toPath: dir)
      }
      return json
    } catch {
      try? fm.removeItem(atPath: stage)
      throw error is OutputError ? error : error is WriteError ? error : WriteError(path: dir, error)
    }
  }

  static func encoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return e
  }
}

struct OutputError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}
