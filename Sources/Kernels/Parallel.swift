// Parallel: split a loop over worker threads with Dispatch. Work items are assigned round-robin and
// each item is computed the same way whoever runs it, so results never depend on the thread count.
import Dispatch

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
  withoutActuallyEscaping(body) { body in
    let work = UncheckedSendableBody(body: body)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      var i = w
      while i < count {
        work.body(i, w)
        i += workers
      }
    }
  }
}

/// The body of one `parallelForWorkers`. Safe to share: it lives only for the duration of the
/// `concurrentPerform` call, and callers partition the memory it writes by index (or worker).
private struct UncheckedSendableBody: @unchecked Sendable {
  let body: (Int, Int) -> Void
}
