// The activation arena: first fit with coalescing, heap fallback, ArenaArray's value semantics, and
// a model run from an arena: the same output as from the heap, and nothing allocated outside the
// arena when the same image runs again (the steady state of an app).
import Dispatch
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct ArenaTests {
  func address(_ a: ArenaArray<Float>) -> UInt { a.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }

  @Test func firstFitReusesAndCoalesces() {
    let arena = Arena(capacity: 1 << 20)
    var a: ArenaArray<Float>? = ArenaArray(repeating: 1, count: 25_000, in: arena)   // 100,000 B: 1563 lines of 64
    var b: ArenaArray<Float>? = ArenaArray(repeating: 2, count: 25_000, in: arena)
    let c = ArenaArray<Float>(repeating: 3, count: 25_000, in: arena)
    let (addressA, addressB) = (address(a!), address(b!))
    #expect(addressB - addressA == 100_032, "blocks are laid out one after another, 64-byte aligned")
    b = nil
    let d = ArenaArray<Float>(repeating: 4, count: 10_000, in: arena)
    #expect(address(d) == addressB, "the lowest free block that fits is reused")
    a = nil
    let e = ArenaArray<Float>(repeating: 5, count: 50_000, in: arena)
    #expect(address(e) > address(c), "200,000 B do not fit in the 100,032 B hole before d")
    _ = (d, e)
    #expect(arena.statistics.fallbacks == 0 && arena.statistics.allocations == 5)
    #expect(c.allSatisfy { $0 == 3 } && d.allSatisfy { $0 == 4 }, "live blocks are untouched")
  }

  @Test func freedNeighboursMergeIntoOneBlock() {
    let arena = Arena(capacity: 3 << 16)   // a whole number of pages: the capacity is not rounded up
    do {
      let parts = (0..<3).map { _ in ArenaArray<Int8>(repeating: 0, count: 1 << 16, in: arena) }
      #expect(parts.allSatisfy { $0.arena === arena } && arena.statistics.inUse == arena.capacity)
    }
    #expect(arena.statistics.inUse == 0)
    // Only a coalesced free list has one block as large as the whole region.
    let whole = ArenaArray<Int8>(repeating: 1, count: arena.capacity, in: arena)
    #expect(arena.statistics.fallbacks == 0 && whole.count == arena.capacity)
  }

  @Test func aRequestThatDoesNotFitFallsBackToTheHeapAndIsCounted() {
    let arena = Arena(capacity: 4096)
    var big = ArenaArray<Float>(repeating: 7, count: 2000, in: arena)   // 8000 B
    big[1999] = 8
    #expect(arena.statistics.fallbacks == 1 && arena.statistics.fallbackBytes == 8000)
    #expect(arena.statistics.inUse == 0 && big[1999] == 8 && big[0] == 7)
  }

  /// A single run's arena gives the pages of freed blocks back to the OS (between phases: `trim`): on
  /// Linux they read as zeros when next handed out; a steady-state arena keeps them (and their contents).
  @Test(arguments: [true, false])
  func freedPagesGoBackWhenAsked(_ returns: Bool) {
    let arena = Arena(capacity: 1 << 20, returnsFreedPages: returns)
    do { _ = ArenaArray<UInt8>(repeating: 7, count: 1 << 20, in: arena) }
    arena.trim()
    let again = ArenaArray<UInt8>(unsafeUninitializedCount: 1 << 20, in: arena) { _ in }
    #if os(Linux)
    #expect(again.allSatisfy { $0 == (returns ? 0 : 7) }, "returnsFreedPages \(returns)")
    #endif
    #expect(arena.statistics.fallbacks == 0)
  }

  /// A block's storage object goes back to the arena's pool when its last array goes and is handed out again:
  /// no heap allocation for it (issue 19); the arena's own reference does not count as a copy.
  @Test func storageObjectsArePooled() {
    let arena = Arena(capacity: 1 << 16)
    for round in 0..<3 {
      var a = ArenaArray<Float>(repeating: Float(round), count: 100, in: arena)
      let b = ArenaArray<Int8>(repeating: 1, count: 10, in: arena)
      a[0] = 7   // a unique array is written in place: no copy, no new block
      #expect(a[0] == 7 && a[1] == Float(round) && b[9] == 1)
      #expect(arena.statistics.allocations == 2 * (round + 1), "round \(round): \(arena.statistics)")
    }
    #expect(arena.statistics.newBlocks == 2 && arena.statistics.inUse == 0, "\(arena.statistics)")
  }

  @Test func copiesAreValues() {
    let arena = Arena(capacity: 1 << 16)
    let a = ArenaArray<Float>([1, 2, 3], in: arena)
    var b = a
    b[0] = 10
    #expect(Array(a) == [1, 2, 3] && Array(b) == [10, 2, 3], "a write to a shared copy copies first")
    #expect(b.arena === arena && arena.statistics.allocations == 2)
    b.withUnsafeMutableBufferPointer { $0[1] = 20 }
    #expect(Array(b) == [10, 20, 3] && arena.statistics.allocations == 2, "a unique copy is written in place")
  }

  /// The bundled int8 demo model on an example image, streamed (small chunks and bands, so that
  /// every path allocates): logits equal to a heap run's, bit for bit; the second run from the same
  /// arena falls back to the heap 0 times, makes the same requests and touches no new page.
  @Test func modelRunsFromTheArenaAndReusesIt() throws {
    let file = try ModelFile(path: Fixtures.repository + "/Models/shapes/model.int8.eseg")
    let model = try file.model(), preprocessor = try file.preprocessor()
    let image = try ImageDecoder.decode(readBytes(Fixtures.repository + "/Examples/shapes-2.png")).oriented().rgb()
    var ctx = InferenceContext(kernels: .best(for: .detect()), threads: 2)
    (ctx.tokenChunk, ctx.bandRows) = (256, 8)
    let pv = ImageProcessor.pixelValues(image, config: preprocessor)
    let heap = model(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
    let input = ImageProcessor.outputSize(height: image.height, width: image.width, config: preprocessor)
    let plan = model.memoryPlan(input: input, image: (image.height, image.width), tokenChunk: 256, bandRows: 8, kernels: ctx.kernels,
                                threads: ctx.threads)
    let arena = Arena(capacity: plan.arenaBytes)
    ctx.arena = arena
    var runs: [Arena.Statistics] = []
    for _ in 0..<2 {
      arena.resetStatistics()
      let out = model(pixelValues: ImageProcessor.pixelValues(image, config: preprocessor, in: arena).data, height: pv.height, width: pv.width,
                      in: ctx)
      #expect(out.maskLogits == heap.maskLogits && out.classLogits == heap.classLogits, "the arena changes where, not what")
      #expect(out.maskLogits.arena === arena)
      runs.append(arena.statistics)
    }
    #expect(arena.statistics.inUse == 0, "every buffer went back")
    #expect(runs[0].fallbacks == 0 && runs[1].fallbacks == 0, "MemoryPlan's size holds the run: \(runs)")
    #expect(runs[1].allocations == runs[0].allocations && runs[0].allocations > 100, "\(runs)")
    #expect(runs[0].newBlocks > 0 && runs[1].newBlocks == 0, "the second run reuses the first's storage objects: \(runs)")
    #expect(runs[1].highWater == runs[0].highWater && runs[0].highWater <= arena.capacity)
    print("arena: \(arena.capacity >> 10) KiB reserved, \(runs[0].highWater >> 10) KiB touched, peak in use \(runs[0].peakInUse >> 10) KiB, \(runs[0].allocations) buffers per run")
  }
}
