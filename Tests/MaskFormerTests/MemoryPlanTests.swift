// MemoryPlan: the streaming a budget picks, and refusals below the leanest plan.
import Converter
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

/// MemoryPlan (issue 6): leaner candidates predict less; a generous budget keeps whole maps (fastest),
/// a tight one streams, and one below the leanest prediction is refused.
@Suite struct MemoryPlanTests {
  @Test func choosesTheFastestPlanThatFits() throws {
    let config = try Checkpoint(directory: Fixtures.path("tiny")).config
    let input = (height: 1024, width: 1024), image = (height: 1024, width: 1024)
    let predictions = MemoryPlan.candidates.map {
      MemoryPlan.predict(config, input: input, image: image, int8: true, tokenChunk: $0.tokenChunk, bandRows: $0.bandRows).predictedBytes
    }
    #expect(zip(predictions, predictions.dropFirst()).allSatisfy { $0 >= $1 }, "\(predictions)")
    #expect(predictions.first! > predictions.last!)
    guard case .success(let whole) = MemoryPlan.choose(config, input: input, image: image, int8: true, budget: 1 << 40) else {
      Issue.record("a 1 TiB budget must fit"); return
    }
    #expect(whole.bandRows == .max)
    let leanBudget = Int((Double(predictions.last!) * (1 + MemoryPlan.margin)).rounded(.up))
    guard case .success(let lean) = MemoryPlan.choose(config, input: input, image: image, int8: true, budget: leanBudget) else {
      Issue.record("the leanest prediction must fit its own budget"); return
    }
    #expect(lean.bandRows < .max && lean.predictedBytes <= predictions.last!)
    guard case .failure(let e) = MemoryPlan.choose(config, input: input, image: image, int8: true, budget: predictions.last!) else {
      Issue.record("a budget below the leanest prediction must be refused"); return
    }
    #expect(e.leanest.predictedBytes == predictions.last!)
  }
}
