// ModelFile: the edge-seg model file, read in place from a read-only mapping. Format version 1; all
// integers little-endian; docs/FORMAT.md has the full description.
//
//  1. header: magic "ESEG" (4 bytes), version UInt32 = 1, data offset UInt64 (= header byte count,
//     a multiple of 64), tensor count UInt32, metadata count UInt32
//  2. metadata records: key (UInt32 byte count + UTF-8), type UInt8, value:
//       0 Int64 · 1 Float64 · 2 String (UInt32 + UTF-8) · 3 [Float32] · 4 [Int64] · 5 [String]
//       (arrays: UInt32 count, then the elements)
//  3. tensor table, per tensor: name (UInt32 + UTF-8), dtype UInt8, rank UInt8, dims UInt64 × rank,
//     input quant (scale Float32, zero point Int32), output quant (same; scale 0 = none),
//     offset UInt64 (from the file start), byte count UInt64, checksum UInt64 (FNV-1a 64 of the bytes)
//  4. header checksum UInt64: FNV-1a 64 of every byte before it (so any corruption of 1-3 is caught)
//  5. zero padding up to the data offset
//  6. data: every tensor at a multiple of 64, in the layout its dtype names (tensor dtypes below)
//
// Nothing is repacked or copied at load: kernels read `qgemm_i8x4_n16` weights where they lie.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Quant

public enum ModelFileFormat {
  /// `general.architecture` of each model family's files.
  public static let maskFormerArchitecture = "MaskFormerForInstanceSegmentation/swin"
  public static let mask2FormerArchitecture = "Mask2FormerForUniversalSegmentation/swin"
  public static let magic: [UInt8] = Array("ESEG".utf8)
  public static let version: UInt32 = 1
  public static let alignment = 64
}

/// Tensor element layouts.
public enum TensorDType: UInt8, Sendable, CaseIterable {
  case f32 = 0, f16 = 1, i8 = 2, i32 = 3
  /// Packed int8 GEMM weights for `y = x·Wᵀ`, logical shape `[N, K]` (a conv's K is tap-major:
  /// `k = (ky·kw + kx)·Cin + ci`). Panels of 16 output channels; per panel: Int32 bias ×16 (at scale
  /// `s_in·s_w[c]`), Int32 Σ_k q[c][k] ×16, Float32 s_w ×16, then Int8 weights `[Kp/4][16][4]` with
  /// Kp = K rounded up to 4 (zeros past K and past N). Every panel is `192 + 16·Kp` bytes, a
  /// multiple of 64.
  case qgemmI8x4N16 = 4

  /// Bytes of a tensor of this dtype and logical shape.
  public func byteCount(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
      let (p, o) = n.multipliedReportingOverflow(by: d)
      guard !o, d >= 0 else { return nil }
      n = p
    }
    switch self {
    case .f32, .i32: return n.multipliedReportingOverflow(by: 4).overflow ? nil : n * 4
    case .f16: return n * 2
    case .i8: return n
    case .qgemmI8x4N16:
      guard dims.count == 2 else { return nil }
      return QGEMMPanelLayout.byteCount(n: dims[0], k: dims[1])
    }
  }
}

public enum MetadataValue: Sendable, Equatable {
  case int(Int64), float(Double), string(String), floats([Float]), ints([Int64]), strings([String])
}

public struct TensorEntry: Sendable, Equatable {
  public var name: String
  public var dtype: TensorDType
  public var dims: [Int]
  public var input: QuantParams?
  public var output: QuantParams?
  public var offset: Int
  public var byteCount: Int
  public var checksum: UInt64
}

public enum ModelFileError: Error, Equatable, CustomStringConvertible {
  case malformed(path: String, reason: String)
  case checksum(path: String, tensor: String)

  public var description: String {
    switch self {
    case .malformed(let p, let r): "\(p): not a valid edge-seg model file: \(r)"
    case .checksum(let p, let t): "\(p): tensor \(t) fails its checksum (file corrupted)"
    }
  }
}

/// FNV-1a, 64-bit.
public func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
  var h: UInt64 = 0xCBF2_9CE4_8422_2325
  for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
  return h
}

/// A model file mapped read-only and validated: magic, version, alignment, every tensor inside the
/// file and of the size its dtype and shape imply. Checksums are checked by `verify()`.
public final class ModelFile: @unchecked Sendable {  // immutable after init
  public let path: String
  public let mapping: MappedFile
  public let metadata: [(key: String, value: MetadataValue)]
  public let tensors: [TensorEntry]

  public convenience init(path: String) throws {
    try self.init(mapping: try MappedFile(path: path))
  }

  /// Parses a model already in memory (`MappedFile(copying:name:)`), as the fuzzer does.
  public init(mapping file: MappedFile) throws {
    let path = file.path
    self.path = path
    self.mapping = file
    var r = ByteReader(bytes: file.bytes, path: path)
    guard try r.bytes(4) == ModelFileFormat.magic else { throw ModelFileError.malformed(path: path, reason: "bad magic (expected \"ESEG\")") }
    let version = try r.u32()
    guard version == ModelFileFormat.version else {
      throw ModelFileError.malformed(path: path, reason: "format version \(version), this edge-seg reads version \(ModelFileFormat.version)")
    }
    let dataOffset = try r.u64()
    guard dataOffset % UInt64(ModelFileFormat.alignment) == 0, dataOffset <= UInt64(file.byteCount) else {
      throw ModelFileError.malformed(path: path, reason: "data offset \(dataOffset) misaligned or past the end (\(file.byteCount) bytes)")
    }
    let tensorCount = Int(try r.u32()), metaCount = Int(try r.u32())
    guard tensorCount <= 1 << 20, metaCount <= 1 << 20 else { throw ModelFileError.malformed(path: path, reason: "implausible counts") }
    var meta: [(String, MetadataValue)] = []
    for _ in 0..<metaCount {
      let key = try r.string()
      let type = try r.u8()
      let value: MetadataValue
      switch type {
      case 0: value = .int(Int64(bitPattern: try r.u64()))
      case 1: value = .float(Double(bitPattern: try r.u64()))
      case 2: value = .string(try r.string())
      case 3: value = .floats(try (0..<(try r.count(4))).map { _ in Float(bitPattern: try r.u32()) })
      case 4: value = .ints(try (0..<(try r.count(8))).map { _ in Int64(bitPattern: try r.u64()) })
      case 5: value = .strings(try (0..<(try r.count(4))).map { _ in try r.string() })
      default: throw ModelFileError.malformed(path: path, reason: "metadata \(key) has unknown type \(type)")
      }
      meta.append((key, value))
    }
    var entries: [TensorEntry] = []
    for _ in 0..<tensorCount {
      let name = try r.string()
      let rawType = try r.u8()
      guard let dtype = TensorDType(rawValue: rawType) else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has unknown dtype \(rawType)") }
      let rank = Int(try r.u8())
      guard rank <= 8 else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has rank \(rank)") }
      var dims: [Int] = []
      for _ in 0..<rank {
        let d = try r.u64()
        guard d <= UInt64(Int32.max) else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has dimension \(d)") }
        dims.append(Int(d))
      }
      func quant() throws -> QuantParams? {
        let s = Float(bitPattern: try r.u32()), z = Int32(bitPattern: try r.u32())
        guard s.isFinite, s >= 0, (-128...127).contains(z) else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has quantization (\(s), \(z))") }
        return s == 0 ? nil : QuantParams(scale: s, zeroPoint: z)
      }
      let input = try quant(), output = try quant()
      let offset = try r.u64(), count = try r.u64(), checksum = try r.u64()
      guard offset % UInt64(ModelFileFormat.alignment) == 0 else {
        throw ModelFileError.malformed(path: path, reason: "tensor \(name) at offset \(offset) is not 64-byte aligned")
      }
      guard offset >= dataOffset, count <= UInt64(file.byteCount), offset <= UInt64(file.byteCount) - count else {
        throw ModelFileError.malformed(path: path, reason: "tensor \(name) (offset \(offset), \(count) bytes) lies outside the \(file.byteCount)-byte file")
      }
      guard let expected = dtype.byteCount(dims), expected == Int(count) else {
        throw ModelFileError.malformed(path: path, reason: "tensor \(name) has \(count) bytes, its dtype and shape \(dims) need \(dtype.byteCount(dims) ?? -1)")
      }
      entries.append(TensorEntry(name: name, dtype: dtype, dims: dims, input: input, output: output,
                                 offset: Int(offset), byteCount: Int(count), checksum: checksum))
    }
    let headerEnd = r.position
    let stored = try r.u64()
    guard stored == fnv1a64(UnsafeRawBufferPointer(rebasing: file.bytes[0..<headerEnd])) else {
      throw ModelFileError.malformed(path: path, reason: "header checksum mismatch (header or tensor table corrupted)")
    }
    guard r.position <= Int(dataOffset) else { throw ModelFileError.malformed(path: path, reason: "header overlaps the data section") }
    metadata = meta
    tensors = entries
  }

  /// Recomputes every tensor's checksum.
  public func verify() throws(ModelFileError) {
    for t in tensors {
      let bytes = UnsafeRawBufferPointer(start: mapping.base + t.offset, count: t.byteCount)
      guard fnv1a64(bytes) == t.checksum else { throw .checksum(path: path, tensor: t.name) }
    }
  }

  public func value(_ key: String) -> MetadataValue? { metadata.first { $0.key == key }?.value }
  public func tensor(_ name: String) -> TensorEntry? { tensors.first { $0.name == name } }
  public func bytes(_ t: TensorEntry) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mapping.base + t.offset, count: t.byteCount) }
}

/// Bounds-checked little-endian reads over the mapping.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer
  let path: String
  var position = 0

  mutating func take(_ n: Int) throws -> Int {
    guard n >= 0, n <= bytes.count - position else {
      throw ModelFileError.malformed(path: path, reason: "header truncated at byte \(position) (file has \(bytes.count) bytes)")
    }
    defer { position += n }
    return position
  }
  mutating func u8() throws -> UInt8 { bytes[try take(1)] }
  mutating func u32() throws -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)) }
  mutating func u64() throws -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self)) }
  mutating func bytes(_ n: Int) throws -> [UInt8] {
    let p = try take(n)
    return Array(bytes[p..<(p + n)])
  }
  /// An array count whose elements of `size` bytes must fit in the rest of the file.
  mutating func count(_ size: Int) throws -> Int {
    let n = Int(try u32())
    guard n * size <= bytes.count - position else { throw ModelFileError.malformed(path: path, reason: "array of \(n) at byte \(position) runs past the end") }
    return n
  }
  mutating func string() throws -> String {
    let n = try count(1)
    guard n <= 1 << 16 else { throw ModelFileError.malformed(path: path, reason: "string of \(n) bytes at byte \(position)") }
    let b = try bytes(n)
    guard let s = String(validating: b, as: UTF8.self) else { throw ModelFileError.malformed(path: path, reason: "invalid UTF-8 at byte \(position - n)") }
    return s
  }
}
