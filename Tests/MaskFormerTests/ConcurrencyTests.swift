// Thread safety as the library states it (EdgeSeg.swift): a SegmentationModel (one read-only mapping)
// may be shared by any number of threads; a Session is used by one thread at a time. Four sessions, each
// on its own thread with 2 worker threads, segment images over one model at once: every output equals
// the serial one: 52 segmentations. (The same test runs under TSan in tools/sanitizers.sh.)
import Dispatch
import EdgeSeg
import Foundation
import Testing
import _TestSupport

@Suite struct ConcurrencyTests {
  @Test func sessionsOnSeveralThreadsOverOneModel() throws {
    let model = try SegmentationModel(path: Fixtures.repository + "/Models/shapes/model.int8.eseg")
    let images = try (1...4).map { try ImageDecoder.decode(contentsOfFile: Fixtures.repository + "/Examples/shapes-\($0).png") }
    let perSession = 13   // images per session: 4 sessions x 13 = 52 segmentations (each example 13 times)
    let config = SessionConfiguration(threads: 2)
    @Sendable func run(_ s: Session, _ image: Image) throws -> [Int32] {
      let r = try s.segment(image)
      return r.segmentMap + r.segments.flatMap { [Int32($0.id), Int32($0.labelId), Int32(($0.score ?? 0) * 1e6)] }
    }
    let serialSession = try model.session(for: images[0], configuration: config)
    let serial = try images.map { try run(serialSession, $0) }
    nonisolated(unsafe) var results = [[Int32]?](repeating: nil, count: 4 * perSession)
    nonisolated(unsafe) var failures: [String] = []
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 4) { t in
      do {
        let session = try model.session(for: images[0], configuration: config)   // all four examples are 256x256
        for k in 0..<perSession {
          let out = try run(session, images[(t + k) % 4])
          lock.withLock { results[t * perSession + k] = out }
        }
      } catch {
        lock.withLock { failures.append("\(error)") }
      }
    }
    #expect(failures.isEmpty, "\(failures)")
    for t in 0..<4 {
      for k in 0..<perSession {
        #expect(results[t * perSession + k] == serial[(t + k) % 4], "session \(t), image \((t + k) % 4): differs from the serial run")
      }
    }
  }
}
