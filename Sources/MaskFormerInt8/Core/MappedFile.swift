// MappedFile: a whole file mapped read-only (mmap), unmapped when the last reference goes away.
// Weights are read in place from the mapping: the kernel pages them in on demand and counts them as
// file-backed (RssFile), not as anonymous heap.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum MappedFileError: Error, Equatable, CustomStringConvertible {
  case cannotOpen(path: String, errno: Int32)
  case cannotMap(path: String, errno: Int32)

  public var description: String {
    switch self {
    case .cannotOpen(let path, let e): "\(path): cannot open (\(String(cString: strerror(e))))"
    case .cannotMap(let path, let e): "\(path): cannot map (\(String(cString: strerror(e))))"
    }
  }
}

public final class MappedFile: WeightStorage, @unchecked Sendable {  // immutable after init; the mapping is read-only
  public let path: String
  public let base: UnsafeRawPointer
  public let byteCount: Int
  private let onHeap: Bool

  public init(path: String) throws(MappedFileError) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, errno: errno) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, errno: EISDIR) }
    self.path = path
    self.byteCount = Int(st.st_size)
    if byteCount == 0 {
      // mmap rejects length 0; an empty file maps to nothing and is rejected by the parsers.
      self.base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
      self.onHeap = true
      return
    }
    self.onHeap = false
    guard let p = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw .cannotMap(path: path, errno: errno)
    }
    self.base = UnsafeRawPointer(p)
  }

  /// A copy of `bytes` on the heap, page-aligned like a mapping, named `name` in error messages:
  /// for inputs that never were files (the fuzzer, tests). `release` is a no-op on it.
  public init(copying bytes: UnsafeRawBufferPointer, name: String) {
    self.path = name
    self.byteCount = bytes.count
    self.onHeap = true
    let p = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 4096)
    if let src = bytes.baseAddress, bytes.count > 0 { p.copyMemory(from: src, byteCount: bytes.count) }
    self.base = UnsafeRawPointer(p)
  }

  deinit {
    if onHeap {
      UnsafeMutableRawPointer(mutating: base).deallocate()
    } else {
      munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }
  }

  public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

  /// Drops the pages of [start, start + byteCount) from memory (MADV_DONTNEED on a read-only mapping:
  /// they are read back from the file if touched again).
  public func release(_ start: UnsafeRawPointer, byteCount n: Int) {
    guard !onHeap, n > 0 else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let lo = max(Int(bitPattern: base), (Int(bitPattern: start)) / page * page)
    let hi = min(Int(bitPattern: base) + self.byteCount, (Int(bitPattern: start) + n + page - 1) / page * page)
    guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
    _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
  }
}

/// A heap buffer of floats that backs `WeightTensor`s converted from F16/BF16 or realigned.
public final class HeapWeights: WeightStorage, @unchecked Sendable {  // written once at load, then read-only
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int

  public init(count: Int) {
    self.count = count
    self.pointer = .allocate(capacity: Swift.max(count, 1))
    pointer.initialize(repeating: 0, count: Swift.max(count, 1))
  }

  deinit { pointer.deallocate() }
}
