// Safetensors: reader (memory-mapped, tensors used in place) and writer for the safetensors format:
// u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}},
// then the data; offsets are relative to the data start. https://github.com/huggingface/safetensors
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MaskFormerInt8
import Quant

/// One header entry; `__metadata__` decodes with every field nil.
private struct RawEntry: Decodable {
  var dtype: String?
  var shape: [Int]?
  var data_offsets: [Int]?
}

private struct RawMetadata: Decodable {
  var __metadata__: [String: String]?
}

public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
  case malformed(path: String, reason: String)
  case missingTensor(path: String, name: String)
  case wrongShape(path: String, name: String, expected: [Int], found: [Int])
  case unsupportedDType(path: String, name: String, dtype: String)

  public var description: String {
    switch self {
    case .malformed(let path, let reason): "\(path): not a valid safetensors file: \(reason)"
    case .missingTensor(let path, let name): "\(path): missing tensor \(name)"
    case .wrongShape(let path, let name, let e, let f): "\(path): tensor \(name) has shape \(f), expected \(e)"
    case .unsupportedDType(let path, let name, let d): "\(path): tensor \(name) has dtype \(d); supported: F32, F16, BF16"
    }
  }
}

public struct SafetensorsEntry: Sendable, Equatable {
  public var dtype: String
  public var shape: [Int]
  public var begin: Int
  public var end: Int
}

/// A safetensors file mapped read-only. F32 tensors at 4-byte-aligned offsets are used in place;
/// F16/BF16 (and misaligned F32) tensors are widened into one heap buffer per tensor on request.
public final class SafetensorsFile: @unchecked Sendable {  // immutable after init
  public let path: String
  public let file: MappedFile
  public let entries: [String: SafetensorsEntry]
  public let metadata: [String: String]
  let dataStart: Int

  public convenience init(path: String) throws {
    try self.init(mapping: try MappedFile(path: path))
  }

  /// Parses a file already in memory (`MappedFile(copying:name:)`), as the fuzzer does.
  public init(mapping file: MappedFile) throws {
    let path = file.path
    let bytes = file.bytes
    guard bytes.count >= 8 else { throw SafetensorsError.malformed(path: path, reason: "file is \(bytes.count) bytes, shorter than its 8-byte header length") }
    let n = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
    guard n <= UInt64(bytes.count - 8), n < 100_000_000 else {
      throw SafetensorsError.malformed(path: path, reason: "header length \(n) exceeds file size \(bytes.count)")
    }
    let header = Data(bytes[8..<(8 + Int(n))])
    guard let json = try? JSONDecoder().decode([String: RawEntry].self, from: header) else {
      throw SafetensorsError.malformed(path: path, reason: "header is not a JSON object of tensor entries")
    }
    let dataStart = 8 + Int(n)
    let dataSize = bytes.count - dataStart
    var entries: [String: SafetensorsEntry] = [:]
    let metadata = (try? JSONDecoder().decode(RawMetadata.self, from: header))?.__metadata__ ?? [:]
    for (name, value) in json where name != "__metadata__" {
      guard let dtype = value.dtype, let shape = value.shape, let offs = value.data_offsets, offs.count == 2 else {
        throw SafetensorsError.malformed(path: path, reason: "entry \(name) lacks dtype, shape or data_offsets")
      }
      guard offs[0] >= 0, offs[0] <= offs[1], offs[1] <= dataSize, shape.allSatisfy({ $0 >= 0 }) else {
        throw SafetensorsError.malformed(path: path, reason: "entry \(name) has offsets \(offs) outside the \(dataSize)-byte data section")
      }
      let elements: Int = shape.reduce(1, *)
      if let size = Self.elementSize(dtype), elements * size != offs[1] - offs[0] {
        let found: Int = offs[1] - offs[0]
        throw SafetensorsError.malformed(path: path, reason: "entry \(name): shape \(shape) of \(dtype) needs \(elements * size) bytes, offsets give \(found)")
      }
      entries[name] = SafetensorsEntry(dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
    }
    self.path = path
    self.file = file
    self.entries = entries
    self.metadata = metadata
    self.dataStart = dataStart
  }

  static func elementSize(_ dtype: String) -> Int? {
    switch dtype {
    case "F64", "I64", "U64": 8
    case "F32", "I32", "U32": 4
    case "F16", "BF16", "I16", "U16": 2
    case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": 1
    default: nil
    }
  }

  /// The named tensor as float32, checked against `shape`.
  public func tensor(_ name: String, shape: [Int]) throws -> WeightTensor {
    guard let e = entries[name] else {
      if let packed = try packedProjection(name, shape: shape) { return packed }
      throw SafetensorsError.missingTensor(path: path, name: name)
    }
    guard e.shape == shape else { throw SafetensorsError.wrongShape(path: path, name: name, expected: shape, found: e.shape) }
    return try tensor(name)
  }

  /// `<attn>.{q,k,v}_proj.{weight,bias}` of an `nn.MultiheadAttention` (Mask2Former's masked cross-attention),
  /// which checkpoints store packed as `<attn>.in_proj_{weight,bias}` (q, k, v stacked along the first axis):
  /// the slice, as its own tensor under the unpacked name (which a converted model file then stores).
  func packedProjection(_ name: String, shape: [Int]) throws -> WeightTensor? {
    guard let m = name.wholeMatch(of: /(.+)\.([qkv])_proj\.(weight|bias)/), let first = shape.first else { return nil }
    let packedName = "\(m.output.1).in_proj_\(m.output.3)"
    guard entries[packedName] != nil else { return nil }
    let packed = try tensor(packedName, shape: [3 * first] + shape.dropFirst())
    let index = ["q": 0, "k": 1, "v": 2][String(m.output.2)]!, count = shape.reduce(1, *)
    return WeightTensor(storage: packed.storage, pointer: packed.pointer + index * count, shape: shape, name: name)
  }

  /// The named tensor as float32, in place when possible.
  public func tensor(_ name: String) throws -> WeightTensor {
    guard let e = entries[name] else { throw SafetensorsError.missingTensor(path: path, name: name) }
    let count = e.shape.reduce(1, *)
    let src = file.base + dataStart + e.begin
    switch e.dtype {
    case "F32" where Int(bitPattern: src) % 4 == 0:
      return WeightTensor(storage: file, pointer: src.assumingMemoryBound(to: Float.self), shape: e.shape, name: name)
    case "F32", "F16", "BF16":
      let heap = HeapWeights(count: count)
      for i in 0..<count {
        switch e.dtype {
        case "F32": heap.pointer[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
        case "F16": heap.pointer[i] = Self.halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
        default: heap.pointer[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
        }
      }
      return WeightTensor(storage: heap, pointer: UnsafePointer(heap.pointer), shape: e.shape, name: name)
    default:
      throw SafetensorsError.unsupportedDType(path: path, name: name, dtype: e.dtype)
    }
  }

  /// IEEE binary16 → binary32, exact.
  public static func halfToFloat(_ h: UInt16) -> Float { Half.toFloat(h) }
}

/// Writes float32 tensors as a safetensors file, atomically (temporary file, then rename).
public enum SafetensorsWriter {
  public static func write(_ tensors: [(name: String, shape: [Int], data: [Float])], to path: String) throws {
    var header = "{\"__metadata__\":{\"format\":\"pt\"}"
    var offset = 0
    for t in tensors {
      precondition(t.shape.reduce(1, *) == t.data.count, "\(t.name): shape \(t.shape) for \(t.data.count) floats")
      let shape = t.shape.map(String.init).joined(separator: ",")
      header += ",\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 4 * t.data.count)]}"
      offset += 4 * t.data.count
    }
    header += "}"
    while (8 + header.utf8.count) % 8 != 0 { header += " " }
    var out = Data()
    out.reserveCapacity(8 + header.utf8.count + offset)
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    for t in tensors {
      #if _endian(big)
      t.data.map { $0.bitPattern.littleEndian }.withUnsafeBytes { out.append(contentsOf: $0) }
      #else
      t.data.withUnsafeBytes { out.append(contentsOf: $0) }
      #endif
    }
    try AtomicFile.write(out, to: path)
  }
}

/// Writes bytes to `path` through a temporary file in the same directory and a rename, so a reader
/// never sees a partial file and a failure leaves nothing behind.
public enum AtomicFile {
  /// Gives `tmp` the name `path` with rename(2): one step that replaces a previous file atomically, so a
  /// process killed at any point leaves `path` either as it was or as the new file, never missing or partial.
  public static func replace(_ path: String, with tmp: String) throws {
    guard rename(tmp, path) == 0 else {
      throw WriteError(path: path, reason: "cannot rename \(tmp) into place: \(String(cString: strerror(errno)))")
    }
  }

  public static func write(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
      try data.write(to: tmp)
      try replace(path, with: tmp.path)
    } catch {
      try? FileManager.default.removeItem(at: tmp)
      throw WriteError(path: path, error)
    }
  }
}
