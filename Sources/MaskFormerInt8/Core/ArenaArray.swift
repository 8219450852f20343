// ArenaArray: a fixed-size array of activations whose storage comes from an Arena (or the heap when
// there is none) and goes back to it when the last copy is dropped. Value semantics as Array: a write
// to a shared copy copies first (into the same arena). Hot loops use the unsafe-pointer accessors, as
// with Array.
// The storage object (`ArenaBlock`, a class: its reference count is what tells that the last copy went)
// comes from the arena's pool too, so that a steady-state run allocates nothing on the heap: the arena
// finds a block whose only reference is its own pool at its next request (`Arena.sweep`) and reuses it.

public struct ArenaArray<Element: BitwiseCopyable>: RandomAccessCollection, MutableCollection {
  private var storage: ArenaBlock
  /// The arena is kept alive by its arrays (its blocks do not hold it: it holds them).
  public let arena: Arena?
  public let count: Int

  /// `count` elements left for `initialize` to write, every one of them. From a dry-run arena
  /// (`isDryRun`), `initialize` still runs (it may allocate) and must not touch the elements.
  public init(unsafeUninitializedCount count: Int, in arena: Arena?,
              initializingWith initialize: (UnsafeMutableBufferPointer<Element>) throws -> Void) rethrows {
    precondition(count >= 0, "ArenaArray count \(count)")
    self.count = count
    self.arena = arena
    storage = ArenaBlock.make(byteCount: count * MemoryLayout<Element>.stride, in: arena)
    try initialize(UnsafeMutableBufferPointer(start: storage.base.assumingMemoryBound(to: Element.self), count: count))
  }

  public init(repeating value: Element, count: Int, in arena: Arena?) {
    let dry = arena?.isDryRun == true
    self.init(unsafeUninitializedCount: count, in: arena) { if !dry { $0.initialize(repeating: value) } }
  }

  /// A copy of `elements`.
  public init<C: Collection>(_ elements: C, in arena: Arena? = nil) where C.Element == Element {
    let dry = arena?.isDryRun == true
    self.init(unsafeUninitializedCount: elements.count, in: arena) { b in
      guard !dry else { return }
      // Contiguous collections (Array, slices, buffers) as one copy: the element loop below is unspecialized
      // across modules (an iterator call per element; 25 ms for a 512x512 image's pixel values).
      let copied: Bool? = elements.withContiguousStorageIfAvailable { src in
        if let base = src.baseAddress { b.baseAddress!.initialize(from: base, count: src.count) }
        return true
      }
      if copied == true { return }
      var i = 0
      for e in elements {
        b[i] = e
        i += 1
      }
    }
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { count }
  /// The storage is a dry-run arena's block: sized and placed, not backed.
  public var isDryRun: Bool { arena?.isDryRun == true }

  public subscript(i: Int) -> Element {
    get {
      precondition(i >= 0 && i < count, "ArenaArray index \(i) out of 0..<\(count)")
      return storage.base.assumingMemoryBound(to: Element.self)[i]
    }
    set {
      precondition(i >= 0 && i < count, "ArenaArray index \(i) out of 0..<\(count)")
      makeUnique()
      storage.base.assumingMemoryBound(to: Element.self)[i] = newValue
    }
  }

  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.base.assumingMemoryBound(to: Element.self), count: count))
  }

  public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
    makeUnique()
    return try body(UnsafeMutableBufferPointer(start: storage.base.assumingMemoryBound(to: Element.self), count: count))
  }

  private mutating func makeUnique() {
    if let arena {
      if arena.isUniquelyReferenced(&storage) { return }
    } else if isKnownUniquelyReferenced(&storage) {
      return
    }
    let copy = ArenaBlock.make(byteCount: storage.byteCount, in: arena)
    if isDryRun { storage = copy; return }
    copy.base.copyMemory(from: storage.base, byteCount: count * MemoryLayout<Element>.stride)
    storage = copy
  }
}

extension ArenaArray: Equatable where Element: Equatable {
  public static func == (a: Self, b: Self) -> Bool { a.elementsEqual(b) }
}

extension ArenaArray: @unchecked Sendable where Element: Sendable {}

extension ArenaArray: CustomStringConvertible {
  public var description: String { "ArenaArray(\(Array(self)))" }
}

/// The memory of one ArenaArray: `byteCount` bytes at `base`, from an arena's region (or the heap where it
/// did not fit), or from the heap without an arena.
final class ArenaBlock: @unchecked Sendable {
  private(set) var base: UnsafeMutableRawPointer
  private(set) var byteCount: Int
  /// Without an arena the block owns heap memory and frees it when it goes; an arena's blocks live in
  /// its pool and are handed out again (`assign`), their memory freed by the arena's sweep.
  private let ownsMemory: Bool

  static func make(byteCount: Int, in arena: Arena?) -> ArenaBlock {
    if let arena { return arena.block(byteCount: byteCount) }
    if byteCount == 0 { return empty }   // nothing to hold: one shared block (no allocation per empty array)
    // 64-byte aligned with or without an arena: F32GEMM's packed B is read with aligned loads.
    return ArenaBlock(base: .allocate(byteCount: Swift.max(1, byteCount), alignment: Arena.alignment), byteCount: byteCount, ownsMemory: true)
  }

  /// The block of every empty array off an arena (never freed; an array writes nothing into it).
  private static let empty = ArenaBlock(base: .allocate(byteCount: Arena.alignment, alignment: Arena.alignment), byteCount: 0, ownsMemory: false)

  init(base: UnsafeMutableRawPointer, byteCount: Int, ownsMemory: Bool) {
    (self.base, self.byteCount, self.ownsMemory) = (base, byteCount, ownsMemory)
  }

  /// A pooled block takes new memory (under the arena's lock).
  func assign(_ base: UnsafeMutableRawPointer, byteCount: Int) { (self.base, self.byteCount) = (base, byteCount) }

  deinit { if ownsMemory { base.deallocate() } }

}
