// Arena: one region of memory, sized from the MemoryPlan before a run, that every activation buffer of
// the forward pass and the post-processing comes from (ArenaArray) and returns to when its last
// reference goes. First fit by address with coalescing of free neighbours, so that the pages touched stay
// close to the live peak and a second run of the same shape reuses exactly the pages of the first:
// no heap allocation of activations in the steady state. A request that does not fit falls back to
// the heap and is counted (`Statistics.fallbacks`), so a plan that was too small shows in `profile`.
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
  }

  /// Bytes of the region.
  public let capacity: Int
  private let region: UnsafeMutableRawPointer
  /// Free blocks `(offset, size)`, sorted by offset, never adjacent (coalesced).
  private var free: [(offset: Int, size: Int)]
  private var stats = Statistics()
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>

  /// Reserves `capacity` bytes of address space. The OS commits a page when it is first written, so
  /// a region larger than the run needs costs no resident memory.
  public init(capacity: Int) {
    precondition(capacity >= 0, "arena capacity \(capacity)")
    self.capacity = (capacity + Self.alignment - 1) / Self.alignment * Self.alignment
    region = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(self.capacity, Self.alignment), alignment: Self.alignment)
    free = self.capacity > 0 ? [(0, self.capacity)] : []
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    precondition(stats.inUse == 0, "arena released with \(stats.inUse) bytes still in use")
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    region.deallocate()
  }

  public var statistics: Statistics { locked { stats } }

  /// Starts counting allocations, fallbacks and the peak afresh (the high-water mark stays: pages once
  /// touched stay resident).
  public func resetStatistics() {
    locked { stats = Statistics(inUse: stats.inUse, peakInUse: stats.inUse, highWater: stats.highWater) }
  }

  /// `byteCount` bytes aligned to `alignment`: the lowest free block that fits, or the heap.
  func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
    let size = Swift.max(Self.alignment, (byteCount + Self.alignment - 1) / Self.alignment * Self.alignment)
    let offset: Int? = locked {
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
    }
    if let offset { return region + offset }
    return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: Self.alignment)
  }

  /// Returns a block from `allocate` with the same `byteCount`.
  func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
    let offset = pointer - region
    guard offset >= 0 && offset < capacity else {
      pointer.deallocate()
      return
    }
    let size = Swift.max(Self.alignment, (byteCount + Self.alignment - 1) / Self.alignment * Self.alignment)
    locked {
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
      } else {
        free.insert(block, at: lo)
      }
    }
  }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }
}
