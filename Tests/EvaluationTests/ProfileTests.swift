// The profiler on the tiny fixture: spans nest, exclusive times add up to the root exactly, every
// Linear/conv of the model appears once per forward pass, and the Chrome trace is valid trace-event
// JSON (the schema Perfetto and chrome://tracing read: traceEvents with name, ph, ts, pid, tid, and
// dur for complete events).
import Converter
import Evaluation
import Foundation
import Kernels
import MaskFormerInt8
import Profiling
import Testing
import _TestSupport

@Suite struct ProfileTests {
  func profiledRun() throws -> (Profiler, Checkpoint) {
    let checkpoint = try Checkpoint(directory: Fixtures.path("tiny"))
    let profiler = Profiler()
    var ctx = InferenceContext(kernels: .best(for: .detect()), threads: 2)
    ctx.observer = profiler
    let pv = [Float](repeating: 0.25, count: 3 * 64 * 96)
    profiler.begin("total", kind: "total")
    _ = checkpoint.model(pixelValues: pv, height: 64, width: 96, in: ctx)
    profiler.end()
    return (profiler, checkpoint)
  }

  @Test func spansNestAndAddUp() throws {
    let (p, _) = try profiledRun()
    let spans = p.spans
    #expect(spans.first?.name == "total" && spans.first?.depth == 0)
    let root = spans[0].end - spans[0].start
    let sum = spans.reduce(0) { $0 + $1.exclusive }
    #expect(abs(sum - root) <= 1e-9 * Double(spans.count) + 1e-12, "exclusive sum \(sum) vs root \(root)")
    // Each span lies inside the nearest earlier span of smaller depth.
    for (i, s) in spans.enumerated().dropFirst() {
      let parent = spans[..<i].last { $0.depth == s.depth - 1 }!
      #expect(s.start >= parent.start && s.end <= parent.end, "\(s.name) outside \(parent.name)")
      #expect(s.exclusive >= 0)
    }
    // Stage spans for the four backbone stages, the pixel decoder, transformer and heads.
    let names = Set(spans.map(\.name))
    for n in ["backbone", "encoder.stage0", "encoder.stage3", "pixel_decoder", "transformer", "heads", "mask_logits.einsum"] {
      #expect(names.contains(n), "no span \(n)")
    }
  }

  /// A forward in small chunks (one span per chunk and op) folds into one row per op: the same rows,
  /// MACs and exclusive-time total as the whole-map run, with the rows' shapes summed.
  @Test func chunkedSpansFoldIntoOneRowPerOp() throws {
    let checkpoint = try Checkpoint(directory: Fixtures.path("tiny"))
    func rows(chunk: Int) -> (rows: [ProfileRow], spans: Int) {
      let profiler = Profiler()
      var ctx = InferenceContext(kernels: .best(for: .detect()), threads: 2)
      ctx.observer = profiler
      ctx.tokenChunk = chunk
      profiler.begin("total", kind: "total")
      _ = checkpoint.model(pixelValues: [Float](repeating: 0.25, count: 3 * 64 * 96), height: 64, width: 96, in: ctx)
      profiler.end()
      return (ProfileSummary.rows([profiler.spans]), profiler.spans.count)
    }
    let whole = rows(chunk: .max), chunked = rows(chunk: 1)
    #expect(chunked.spans > whole.spans + 100, "chunking should record more spans: \(chunked.spans) vs \(whole.spans)")
    #expect(chunked.rows.map(\.name) == whole.rows.map(\.name))
    #expect(chunked.rows.map(\.macs) == whole.rows.map(\.macs))
    for (a, b) in zip(chunked.rows, whole.rows) where a.kind == "layernorm" || a.kind == "linear" {
      #expect(a.shape == b.shape, "\(a.name): \(a.shape) vs \(b.shape)")
    }
    let exclusive = chunked.rows.reduce(0) { $0 + $1.exclusiveMs }
    #expect(abs(exclusive - chunked.rows[0].inclusiveMs) <= 1e-6 * exclusive, "exclusive \(exclusive) vs total \(chunked.rows[0].inclusiveMs)")
  }

  /// Every backbone Linear appears once per forward: their span MACs add up to the config's count.
  @Test func everyLayerOnce() throws {
    let (p, checkpoint) = try profiledRun()
    let linears = p.spans.filter { $0.kind == "linear" && $0.name.hasPrefix("model.pixel_level_module.encoder.") }
    let macs = linears.reduce(0) { $0 + $1.macs }
    // The tiny model's Linear/conv MACs at 64x96, counted independently from its config.
    let c = checkpoint.config.swin
    var expected = 0, (h, w, dim) = (16, 24, c.embedDim)
    expected += h * w * 3 * 16 * dim                                              // patch embedding
    for (s, depth) in c.depths.enumerated() {
      expected += depth * h * w * 12 * dim * dim                                  // qkv + proj + 4x MLP
      if s + 1 < c.depths.count { (h, w) = ((h + 1) / 2, (w + 1) / 2); expected += h * w * 4 * dim * 2 * dim; dim *= 2 }
    }
    #expect(macs == expected, "backbone Linear MACs in spans \(macs), from the config \(expected)")
  }

  @Test func chromeTraceIsValid() throws {
    let (p, _) = try profiledRun()
    let data = try ChromeTrace.json(p.spans)
    let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let events = try #require(obj["traceEvents"] as? [[String: Any]])
    #expect(events.count > p.spans.count)
    var complete = 0
    for e in events {
      let ph = try #require(e["ph"] as? String)
      #expect(["X", "C", "M"].contains(ph), "unknown phase \(ph)")
      #expect(e["name"] is String && e["pid"] is Int && e["tid"] is Int)
      if ph == "M" { continue }
      let ts = try #require(e["ts"] as? Double)
      #expect(ts >= 0)
      if ph == "X" {
        complete += 1
        let dur = try #require(e["dur"] as? Double)
        #expect(dur >= 0 && e["cat"] is String)
      } else {
        #expect(e["args"] is [String: Double])
      }
    }
    #expect(complete == p.spans.count)
  }
}
