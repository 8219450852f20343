// Arena: one region of memory, sized from the MemoryPlan before a run, that every activation buffer of
// the forward pass and the post-processing comes from (ArenaArray) and returns to when its last
// reference goes. First fit by address with coalescing of free neighbours, so that the pages touched stay
// close to the live peak and a second run of the same shape reuses exactly the pages of the first:
// no heap allocation of activations in the steady state. A request that does not fit falls back to
// the heap and is counted (`Statistics.fallbacks`), so a plan that was too small shows in `profile`.
// A single run that must stay under a memory budget asks for `returnsFreedPages`: a freed block of
// 16 MiB or more (a whole map) gives its pages back to the OS at once, and `trim` gives back all free
// pages between phases, so that resident memory follows the live buffers (as malloc's mmap threshold
// does) while the chunk buffers of a phase are reused without faulting their pages in again.
// The blocks' storage objects (`ArenaBlock`) are pooled as well: the arena keeps every block it handed
// out; one whose only reference is the arena's (its last ArenaArray went) is swept at the next request,
// `trim` or `statistics` (its memory freed as above, the object kept for the next request), so the free
// list any request sees is the one an immediate free would have left, and a steady-state run makes no
// heap allocation for its buffers at all.
// A dry-run arena (`Arena.dryRun()`) hands out the same blocks by the same first fit from address space
// that is never backed (no access allowed): a forward pass run on it with `InferenceContext.isDryRun`
// makes every request the real one makes, touches nothing, and its statistics are the real run's.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class Arena: @unchecked Sendable {
  /// Every block starts on a cache line (and on a 64-byte boundary for AVX-512 loads).
  public static let alignment = 64

  public struct Statistics: Sendable, Equatable {
    /// Requests served from the region, and from the heap because nothing fit.
    public var allocations = 0
    public var fallbacks = 0
    public var fallbackBytes = 0
    /// Bytes of the region in use now and at most since the last reset.
    public var inUse = 0
    public var peakInUse = 0
    /// The highest region offset ever handed out: the pages a run has touched.
    public var highWater = 0
    /// Storage objects (`ArenaBlock`) made on the heap because none was free in the pool: 0 in a steady state.
    public var newBlocks = 0
  }

  /// Bytes of the region.
  public let capacity: Int
  public let returnsFreedPages: Bool
  /// Blocks are handed out and counted, never backed: their memory must not be read or written.
  public let isDryRun: Bool
  static let returnedBlockBytes = 16 << 20
  private let region: UnsafeMutableRawPointer
  private let mappedBytes: Int
  private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
  /// Free blocks `(offset, size)`, sorted by offset, never adjacent (coalesced).
  private var free: [(offset: Int, size: Int)]
  private var stats = Statistics()
  /// Blocks handed out (an ArenaArray may hold them; the arena's reference is a retain of its own, so that
  /// copy-on-write can discount it) and blocks ready to hand out again.
  private var live: [Unmanaged<ArenaBlock>] = []
  private var spare: [ArenaBlock] = []
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>

  /// Reserves `capacity` bytes of address space (an anonymous mapping). The OS commits a page when
  /// it is first written, so a region larger than the run needs costs no resident memory.
  public convenience init(capacity: Int, returnsFreedPages: Bool = false) {
    self.init(capacity: capacity, returnsFreedPages: returnsFreedPages, dryRun: false)
  }

  /// An arena whose blocks have no memory behind them, for a dry run (sizes and the first-fit layout
  /// recorded, nothing touched): 1 TiB of address space reserved inaccessible, so that a stray access
  /// faults at once instead of costing memory.
  public static func dryRun() -> Arena { Arena(capacity: 1 << 40, returnsFreedPages: false, dryRun: true) }

  private init(capacity: Int, returnsFreedPages: Bool, dryRun: Bool) {
    precondition(capacity >= 0, "arena capacity \(capacity)")
    self.returnsFreedPages = returnsFreedPages
    isDryRun = dryRun
    let bytes = Swift.max(Self.pageSize, (capacity + Self.pageSize - 1) / Self.pageSize * Self.pageSize)
    let p = mmap(nil, bytes, dryRun ? PROT_NONE : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (dryRun ? MAP_NORESERVE : 0), -1, 0)
    if let p, p != MAP_FAILED {
      (region, mappedBytes) = (p, bytes)
    } else if dryRun {
      // No reservation possible (a sanitizer's shadow layout): any 64-byte aligned base will do, it is
      // never dereferenced.
      (region, mappedBytes) = (UnsafeMutableRawPointer(bitPattern: 1 << 44)!, 0)
    } else {
      // ThreadSanitizer refuses mappings outside the range it shadows (measured: every arena fell back
      // to the heap under `swift test --sanitize=thread`): the same region from the heap, page-aligned.
      (region, mappedBytes) = (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.pageSize), 0)
    }
    self.capacity = bytes
    free = [(0, bytes)]
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    sweep()   // no ArenaArray holds a block now (each holds the arena): frees the heap fallbacks' memory
    precondition(stats.inUse == 0, "arena released with \(stats.inUse) bytes still in use")
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    if mappedBytes > 0 { munmap(region, mappedBytes) } else if !isDryRun { region.deallocate() }
  }

  public var statistics: Statistics {
    locked {
      sweep()
      return stats
    }
  }

  /// Starts counting allocations, fallbacks and the peak afresh (the high-water mark stays: pages once
  /// touched stay resident).
  public func resetStatistics() {
    locked { stats = Statistics(inUse: stats.inUse, peakInUse: stats.inUse, highWater: stats.highWater) }
  }

  /// A block of `byteCount` bytes for an ArenaArray: a pooled storage object (new ones only while the pool
  /// grows) with memory from `allocate`.
  func block(byteCount: Int) -> ArenaBlock {
    locked {
      sweep()
      let base = allocate(byteCount: byteCount)
      let block: ArenaBlock
      if let reused = spare.popLast() {
        reused.assign(base, byteCount: byteCount)
        block = reused
      } else {
        block = ArenaBlock(base: base, byteCount: byteCount, ownsMemory: false)
        stats.newBlocks += 1
      }
      live.append(.passRetained(block))
      return block
    }
  }

  /// Frees the memory of every block no ArenaArray holds any more and moves it to the spares (under the lock).
  private func sweep() {
    var i = 0
    while i < live.count {
      var block = live[i].takeRetainedValue()   // the arena's own reference, now this variable's
      if isKnownUniquelyReferenced(&block) {
        deallocate(block.base, byteCount: block.byteCount)
        spare.append(block)
        live.swapAt(i, live.count - 1)
        live.removeLast()
      } else {
        _ = Unmanaged.passRetained(block)   // the arena keeps its reference
        i += 1
      }
    }
  }

  /// Copy-on-write's test for a block of this arena: held by the one ArenaArray that asks. The arena's own
  /// reference is set aside for the test (under the lock, so that no sweep runs meanwhile).
  func isUniquelyReferenced(_ block: inout ArenaBlock) -> Bool {
    locked {
      Unmanaged.passUnretained(block).release()
      defer { _ = Unmanaged.passUnretained(block).retain() }
      return isKnownUniquelyReferenced(&block)
    }
  }

  /// `byteCount` bytes aligned to `alignment`: the lowest free block that fits, or the heap (under the lock).
  private func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
    let size = Self.blockSize(byteCount)
    let offset: Int? = {
      guard let i = free.firstIndex(where: { $0.size >= size }) else {
        stats.fallbacks += 1
        stats.fallbackBytes += size
        return nil
      }
      let block = free[i]
      if block.size == size { free.remove(at: i) } else { free[i] = (block.offset + size, block.size - size) }
      stats.allocations += 1
      stats.inUse += size
      stats.peakInUse = Swift.max(stats.peakInUse, stats.inUse)
      stats.highWater = Swift.max(stats.highWater, block.offset + size)
      return block.offset
    }()
    if let offset { return region + offset }
    return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: Self.alignment)
  }

  /// Returns memory from `allocate` with the same `byteCount` (under the lock).
  private func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
    let offset = pointer - region
    guard offset >= 0 && offset < capacity else {
      pointer.deallocate()
      return
    }
    let size = Self.blockSize(byteCount)
    do {
      stats.inUse -= size
      // Insert sorted, then merge with the free neighbours.
      var lo = 0, hi = free.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if free[mid].offset < offset { lo = mid + 1 } else { hi = mid }
      }
      precondition(lo == free.count || free[lo].offset >= offset + size, "arena: block at \(offset) freed twice")
      precondition(lo == 0 || free[lo - 1].offset + free[lo - 1].size <= offset, "arena: block at \(offset) freed twice")
      var block = (offset: offset, size: size)
      if lo < free.count && free[lo].offset == offset + size {
        block.size += free[lo].size
        free.remove(at: lo)
      }
      if lo > 0 && free[lo - 1].offset + free[lo - 1].size == offset {
        free[lo - 1].size += block.size
        block = free[lo - 1]
      } else {
        free.insert(block, at: lo)
      }
      if returnsFreedPages && size >= Self.returnedBlockBytes { returnPages(of: block) }
    }
  }

  /// The bytes a request of `byteCount` takes: whole cache lines, at least one.
  private static func blockSize(_ byteCount: Int) -> Int {
    Swift.max(alignment, (byteCount + alignment - 1) / alignment * alignment)
  }

  /// With `returnsFreedPages`: gives back the pages of every free block (the arena calls it between
  /// phases of the model, where the buffers of the phase before are gone).
  public func trim() {
    guard returnsFreedPages else { return }
    locked {
      sweep()
      for block in free { returnPages(of: block) }
    }
  }

  /// The whole pages inside a free block (its edges may share a page with a live block).
  private func returnPages(of block: (offset: Int, size: Int)) {
    let first = (block.offset + Self.pageSize - 1) / Self.pageSize * Self.pageSize
    let end = (block.offset + block.size) / Self.pageSize * Self.pageSize
    if end > first { Self.returnPages(region + first, count: end - first) }
  }

  /// Gives the pages back: they read as zeros (Linux) or anything (Darwin) when next touched.
  private static func returnPages(_ p: UnsafeMutableRawPointer, count: Int) {
    #if canImport(Darwin)
    _ = madvise(p, count, MADV_FREE)
    #else
    _ = madvise(p, count, MADV_DONTNEED)
    #endif
  }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }
}
