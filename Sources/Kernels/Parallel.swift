// Parallel: split a loop over worker threads with Dispatch. Work items are assigned round-robin and
// each item is computed the same way whoever runs it, so results never depend on the thread count.
import Dispatch

/// Runs `body(i)` for every i in 0..<count on at most `threads` threads and returns when all are done.
/// Callers guarantee that distinct i touch disjoint memory.
public func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
  let workers = Swift.max(1, Swift.min(threads, count))
  if workers == 1 {
    for i in 0..<count { body(i) }
    return
  }
  withoutActuallyEscaping(body) { body in
    let work = UncheckedSendableBody(body: body)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      var i = w
      while i < count {
        work.body(i)
        i += workers
      }
    }
  }
}

/// The body of one `parallelFor`. Safe to share: it lives only for the duration of the
/// `concurrentPerform` call, and callers partition the memory it writes by index.
private struct UncheckedSendableBody: @unchecked Sendable {
  let body: (Int) -> Void
}
