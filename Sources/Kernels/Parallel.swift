// Parallel: split a loop over worker threads (a persistent pool, _CKernels/sync.c, or Dispatch when the
// pool is in use by another loop). Each worker takes the next item from a
// shared counter when it is done with its last (so a core slowed by a neighbour takes fewer, instead
// of the others waiting for it), and each item is computed the same way whoever runs it, so results
// never depend on the thread count or on which worker ran what.
import Dispatch
import _CKernels

/// Runs `body(i)` for every i in 0..<count on at most `threads` threads and returns when all are done.
/// Callers guarantee that distinct i touch disjoint memory.
public func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
  parallelForWorkers(count, threads: threads) { i, _ in body(i) }
}

/// The number of workers `parallelFor` and `parallelForWorkers` use: one per thread, at most one per item.
public func parallelWorkers(_ count: Int, threads: Int) -> Int { Swift.max(1, Swift.min(threads, count)) }

/// As `parallelFor`, also passing the worker (`0 ..< parallelWorkers(count, threads)`) that runs item i:
/// one worker runs its items one after another, so per-worker scratch needs no lock.
public func parallelForWorkers(_ count: Int, threads: Int, _ body: (_ i: Int, _ worker: Int) -> Void) {
  let workers = parallelWorkers(count, threads: threads)
  if workers == 1 {
    for i in 0..<count { body(i, 0) }
    return
  }
  // The persistent pool (es_pool_run) when it is free; Dispatch when another loop holds it.
  let pooled = withoutActuallyEscaping(body) { body -> Bool in
    var item = PoolBody(body: body)
    return withUnsafeMutablePointer(to: &item) { box in
      es_pool_run(count, workers, { ctx, i, w in
        ctx.unsafelyUnwrapped.assumingMemoryBound(to: PoolBody.self).pointee.body(Int(i), Int(w))
      }, box) == 0
    }
  }
  if pooled { return }
  var next: CLong = 0
  withoutActuallyEscaping(body) { body in withUnsafeMutablePointer(to: &next) { counter in
    let work = UncheckedSendableBody(body: body, counter: counter)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      while true {
        let i = Int(es_atomic_fetch_increment(work.counter))
        guard i < count else { break }
        work.body(i, w)
      }
    }
  }}
}

/// A loop body as a value instead of a closure: `parallelForWorkers(count, threads:, task)` hands the pool a
/// pointer to it and its type, so the hottest loops (the int8 GEMM's, ~70 per frame) allocate nothing. A
/// closure handed to the pool is first made escaping (`withoutActuallyEscaping`), a heap allocation per loop.
public protocol ParallelTask {
  /// Item i, run by `worker` (as `parallelForWorkers`' body).
  func run(_ i: Int, worker: Int)
}

extension ParallelTask {
  /// Runs item i of the task at `task` (the pool's callback, with the task's type opened from `TaskCall`).
  fileprivate static func run(at task: UnsafeRawPointer, _ i: Int, _ worker: Int) {
    task.assumingMemoryBound(to: Self.self).pointee.run(i, worker: worker)
  }
}

/// What the pool's callback receives for a `ParallelTask`: where the task is and its type.
private struct TaskCall {
  let task: UnsafeRawPointer
  let type: any ParallelTask.Type
}

/// As `parallelForWorkers(_:threads:_:)` with the body a `ParallelTask` (no allocation on the pool's path).
public func parallelForWorkers<T: ParallelTask>(_ count: Int, threads: Int, _ task: T) {
  let workers = parallelWorkers(count, threads: threads)
  if workers == 1 {
    for i in 0..<count { task.run(i, worker: 0) }
    return
  }
  let pooled = withUnsafePointer(to: task) { tp -> Bool in
    var call = TaskCall(task: UnsafeRawPointer(tp), type: T.self)
    return withUnsafeMutablePointer(to: &call) { box in
      es_pool_run(count, workers, { ctx, i, w in
        let call = ctx.unsafelyUnwrapped.assumingMemoryBound(to: TaskCall.self).pointee
        call.type.run(at: call.task, Int(i), Int(w))
      }, box) == 0
    }
  }
  if !pooled { parallelForWorkers(count, threads: threads) { i, w in task.run(i, worker: w) } }
}

/// As `parallelFor`, with what the body reads handed over as `state` and the body capturing nothing: the pool
/// gets a `ParallelTask` and no heap allocation is made (a closure that captures has its context boxed
/// when it is made escaping for the pool: one malloc per loop, issue 19). Write the body's captures as a
/// tuple: `parallelFor(n, threads: t, sharing: (x, y)) { s, i in let (x, y) = s; ... }`.
public func parallelFor<State>(_ count: Int, threads: Int, sharing state: State, _ body: @escaping (State, Int) -> Void) {
  parallelForWorkers(count, threads: threads, StatefulItemTask(state: state, body: body))
}

/// As `parallelForWorkers` (the worker passed too), with `state` as `parallelFor(_:threads:sharing:_:)`.
public func parallelForWorkers<State>(_ count: Int, threads: Int, sharing state: State, _ body: @escaping (State, Int, Int) -> Void) {
  parallelForWorkers(count, threads: threads, StatefulTask(state: state, body: body))
}

/// A loop body that captures nothing and the values it reads: a task without a closure context.
private struct StatefulTask<State>: ParallelTask {
  let state: State
  let body: (State, Int, Int) -> Void
  func run(_ i: Int, worker: Int) { body(state, i, worker) }
}

/// As `StatefulTask` for a body that does not ask for its worker (wrapping it in a closure would capture it).
private struct StatefulItemTask<State>: ParallelTask {
  let state: State
  let body: (State, Int) -> Void
  func run(_ i: Int, worker: Int) { body(state, i) }
}

/// Tells the worker pool that no parallel loop follows soon (the end of a forward pass): its threads sleep
/// at once instead of spinning ~0.1 ms for the next loop, which would take the cores from other threads
/// (a batch's output writer, an app's UI). The next loop wakes them.
public func parallelRest() { es_pool_rest() }

/// The body of one `parallelForWorkers` as the pool's context: in a struct, the closure is stored as it is
/// (stored as a bare generic value it would be wrapped in a reabstraction thunk, a heap allocation per loop).
private struct PoolBody { let body: (Int, Int) -> Void }

/// The body of one `parallelForWorkers` and its item counter. Safe to share: both live only for the
/// duration of the `concurrentPerform` call, the counter is only touched atomically, and callers
/// partition the memory the body writes by index (or worker).
private struct UncheckedSendableBody: @unchecked Sendable {
  let body: (Int, Int) -> Void
  let counter: UnsafeMutablePointer<CLong>
}

/// Scratch memory that stays with the calling thread between calls (`es_thread_scratch`): a GEMM's tables
/// and packing buffers without a malloc per call (issue 19: allocations per frame). One buffer per slot and
/// thread, so two uses of one slot must not nest on a thread.
public enum ThreadScratch {
  /// The slots: Int8GEMM's correction/scale tables, its packed activations, Winograd's tile buffers, and the
  /// row buffers of the norm passes (GroupNorm's per-channel sums, the GroupNorm-to-int8 hand-over).
  /// (`withUnsafeTemporaryAllocation` is on the stack only up to ~1 KB; larger, it is a malloc per call.)
  /// `statistics`: GroupNorm's per-row partial statistics; `affine`: a whole-map GroupNorm's scale and shift.
  public enum Slot: CInt { case gemmTables = 0, gemmPacking = 1, winograd = 2, rows = 3, statistics = 4, affine = 5 }

  public static func with<R>(_ slot: Slot, bytes: Int, _ body: (UnsafeMutableRawPointer) -> R) -> R {
    guard let p = es_thread_scratch(slot.rawValue, bytes) else {
      // Out of memory for a grown buffer: a one-off allocation (it fails loudly if memory is truly gone).
      let owned = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes, 1), alignment: 64)
      defer { owned.deallocate() }
      return body(owned)
    }
    return body(p)
  }
}
