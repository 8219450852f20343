// ModelFileWriter: writes the model file format that MaskFormerInt8/ModelFile/ModelFile.swift reads.
// The table's offsets are computed from the tensors' sizes before any data is written, then the data
// is streamed to a temporary file tensor by tensor (each produced on demand, so a converted model is
// never held in memory whole) and the file is renamed into place at the end. Same input, same bytes.
import Foundation
import MaskFormerInt8
import Quant

struct PendingTensor {
  var name: String
  var dtype: TensorDType
  var dims: [Int]
  var input: QuantParams?
  var output: QuantParams?
  /// Produces the bytes when the writer reaches this tensor.
  var produce: () throws -> [UInt8]
}

struct ModelFileWriter {
  var metadata: [(String, MetadataValue)] = []
  var tensors: [PendingTensor] = []

  mutating func meta(_ key: String, _ value: MetadataValue) { metadata.append((key, value)) }

  /// Writes atomically; `progress(done, total)` after each tensor.
  func write(to path: String, progress: (Int, Int) -> Void) throws {
    var header = [UInt8]()
    func u8(_ v: UInt8) { header.append(v) }
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
    func str(_ s: String) { u32(UInt32(s.utf8.count)); header += Array(s.utf8) }
    // Table layout first, to know where the data starts.
    func tableBytes(offsets: [Int]) -> [UInt8] {
      header = []
      header += ModelFileFormat.magic
      u32(ModelFileFormat.version)
      u64(0)  // data offset, patched below
      u32(UInt32(tensors.count))
      u32(UInt32(metadata.count))
      for (key, value) in metadata {
        str(key)
        switch value {
        case .int(let v): u8(0); u64(UInt64(bitPattern: v))
        case .float(let v): u8(1); u64(v.bitPattern)
        case .string(let v): u8(2); str(v)
        case .floats(let v): u8(3); u32(UInt32(v.count)); for f in v { u32(f.bitPattern) }
        case .ints(let v): u8(4); u32(UInt32(v.count)); for i in v { u64(UInt64(bitPattern: i)) }
        case .strings(let v): u8(5); u32(UInt32(v.count)); for s in v { str(s) }
        }
      }
      for (i, t) in tensors.enumerated() {
        str(t.name)
        u8(t.dtype.rawValue)
        u8(UInt8(t.dims.count))
        for d in t.dims { u64(UInt64(d)) }
        for q in [t.input, t.output] {
          u32((q?.scale ?? 0).bitPattern)
          u32(UInt32(bitPattern: q?.zeroPoint ?? 0))
        }
        u64(UInt64(offsets[i]))
        u64(UInt64(t.dtype.byteCount(t.dims)!))
        u64(0)  // checksum, patched after the data is written
      }
      return header
    }
    let a = ModelFileFormat.alignment
    func align(_ x: Int) -> Int { (x + a - 1) / a * a }
    let headerSize = align(tableBytes(offsets: [Int](repeating: 0, count: tensors.count)).count + 8)
    var offsets: [Int] = []
    var cursor = headerSize
    for t in tensors {
      offsets.append(cursor)
      cursor = align(cursor + t.dtype.byteCount(t.dims)!)
    }
    var table = tableBytes(offsets: offsets)
    withUnsafeBytes(of: UInt64(headerSize).littleEndian) { table.replaceSubrange(8..<16, with: $0) }
    // Where each checksum sits in the table: the last 8 bytes of each tensor record.
    var checksumAt: [Int] = []
    do {
      var p = 4 + 4 + 8 + 4 + 4
      for (key, value) in metadata {
        p += 4 + key.utf8.count + 1
        switch value {
        case .int, .float: p += 8
        case .string(let v): p += 4 + v.utf8.count
        case .floats(let v): p += 4 + 4 * v.count
        case .ints(let v): p += 4 + 8 * v.count
        case .strings(let v): p += 4 + v.reduce(0) { $0 + 4 + $1.utf8.count }
        }
      }
      for t in tensors {
        p += 4 + t.name.utf8.count + 1 + 1 + 8 * t.dims.count + 16 + 8 + 8
        checksumAt.append(p)
        p += 8
      }
      precondition(p == table.count, "model file table size mismatch: \(p) vs \(table.count)")
    }

    let tmp = path + ".tmp-\(getpid())"
    _ = FileManager.default.createFile(atPath: tmp, contents: nil)
    guard let handle = FileHandle(forWritingAtPath: tmp) else {
      throw WriteError(path: path, reason: errno != 0 ? String(cString: strerror(errno)) : "cannot create \(tmp)")
    }
    do {
      try handle.write(contentsOf: Data(count: headerSize))
      var position = headerSize
      for (i, t) in tensors.enumerated() {
        let bytes = try t.produce()
        precondition(bytes.count == t.dtype.byteCount(t.dims)!, "tensor \(t.name): produced \(bytes.count) bytes")
        if offsets[i] > position { try handle.write(contentsOf: Data(count: offsets[i] - position)) }
        try handle.write(contentsOf: Data(bytes))
        position = offsets[i] + bytes.count
        let sum = bytes.withUnsafeBytes { fnv1a64($0) }
        withUnsafeBytes(of: sum.littleEndian) { table.replaceSubrange(checksumAt[i]..<(checksumAt[i] + 8), with: $0) }
        progress(i + 1, tensors.count)
      }
      if cursor > position { try handle.write(contentsOf: Data(count: cursor - position)) }
      let headerSum = table.withUnsafeBytes { fnv1a64($0) }
      withUnsafeBytes(of: headerSum.littleEndian) { table += $0 }
      try handle.seek(toOffset: 0)
      try handle.write(contentsOf: Data(table))
      try handle.synchronize()   // on disk before it takes the name: a crash after the rename finds the whole file
      try handle.close()
      try AtomicFile.replace(path, with: tmp)
    } catch {
      try? handle.close()
      try? FileManager.default.removeItem(atPath: tmp)
      let domain = (error as NSError).domain
      throw domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain ? WriteError(path: path, error) : error
    }
  }
}

