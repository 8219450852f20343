// PanopticDataset: a COCO-panoptic style folder (tools/demo/make_dataset.py writes one): panoptic.json
// with images, annotations (segments_info) and categories; images/NAME (RGB) and panoptic/NAME (segment
// id = R + 256·G + 65536·B, 0 = void). Category ids are the model's label ids.
import Foundation
import ImageCodecs

public struct DatasetError: Error, CustomStringConvertible {
  public var description: String
}

public struct PanopticDataset: Sendable {
  public struct Category: Sendable, Decodable {
    public var id: Int
    public var name: String
    public var isthing: Int
  }
  public struct SegmentInfo: Sendable, Decodable {
    public var id: Int
    public var category_id: Int
    /// 1: a crowd region (COCO's iscrowd); absent: 0.
    public var iscrowd: Int?
    /// The annotation's pixel count, if it gives one.
    public var area: Int?
  }
  struct Annotation: Decodable {
    var file_name: String
    var segments_info: [SegmentInfo]
  }
  struct Meta: Decodable {
    var annotations: [Annotation]
    var categories: [Category]
  }

  /// One image with its ground truth.
  public struct Sample: Sendable {
    public var name: String
    public var image: Image
    /// Segment id per pixel (0 = void).
    public var ids: [Int32]
    public var segments: [SegmentInfo]
  }

  public let root: URL
  public let categories: [Category]
  let annotations: [Annotation]

  public init(directory: String) throws {
    root = URL(fileURLWithPath: directory)
    let metaURL = root.appendingPathComponent("panoptic.json")
    let data: Data
    do { data = try Data(contentsOf: metaURL) } catch {
      throw DatasetError(description: "\(metaURL.path): cannot read the dataset's panoptic.json (\(error.localizedDescription))")
    }
    do {
      let meta = try JSONDecoder().decode(Meta.self, from: data)
      categories = meta.categories
      annotations = meta.annotations
    } catch {
      throw DatasetError(description: "\(metaURL.path): not a COCO panoptic annotation file: \(error)")
    }
  }

  public var count: Int { annotations.count }
  /// Label ids of the stuff categories (fused into one segment per class in panoptic output).
  public var stuffIds: Set<Int> { Set(categories.filter { $0.isthing == 0 }.map(\.id)) }

  public func sample(_ i: Int) throws -> Sample {
    let a = annotations[i]
    let imageURL = root.appendingPathComponent("images").appendingPathComponent(a.file_name)
    let panURL = root.appendingPathComponent("panoptic").appendingPathComponent(a.file_name)
    let image = try load(imageURL).orientedRGB()
    let pan = try load(panURL).rgb()
    guard pan.width == image.width, pan.height == image.height else {
      throw DatasetError(description: "\(panURL.path): \(pan.width)x\(pan.height) annotation for a \(image.width)x\(image.height) image")
    }
    var ids = [Int32](repeating: 0, count: pan.width * pan.height)
    for p in ids.indices {
      ids[p] = Int32(pan.pixels[3 * p]) | Int32(pan.pixels[3 * p + 1]) << 8 | Int32(pan.pixels[3 * p + 2]) << 16
    }
    return Sample(name: a.file_name, image: image, ids: ids, segments: a.segments_info)
  }

  func load(_ url: URL) throws -> Image {
    let bytes: [UInt8]
    do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
      throw DatasetError(description: "\(url.path): cannot read (\(error.localizedDescription))")
    }
    do { return try ImageDecoder.decode(bytes) } catch {
      throw DatasetError(description: "\(url.path): \(error)")
    }
  }
}
