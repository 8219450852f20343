// `drift` measures the graph that ships: its end-to-end figures equal those computed from plain runs
// of the same int8 file and float checkpoint (no observer), bit for bit, and its per-layer rows cover
// the int8 hand-over (fc1's int8 output, the int8 stage features) as well.
import Converter
import Evaluation
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct DriftShippedGraphTests {
  @Test func driftEndToEndEqualsPlainRuns() throws {
    let dir = Fixtures.repository + "/Models/shapes"
    let checkpoint = try Checkpoint(directory: dir)
    let file = try ModelFile(path: dir + "/model.int8.eseg")
    let quantized = try file.model()
    let image = try ImageDecoder.decode(readBytes(Fixtures.repository + "/Examples/shapes-2.png"))
    let pv = ImageProcessor.modelInput(image, config: checkpoint.preprocessor)
    let ctx = InferenceContext(kernels: .best(for: .detect()), threads: 2)
    let report = LayerDrift.measure(reference: checkpoint.model, quantized: quantized, inputs: [pv], context: ctx)
    let q = quantized.logits(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
    let f = checkpoint.model.logits(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
    var plain = OutputDrift()
    let t = (height: pv.height, width: pv.width)
    plain.add(int8: q, float: f, int8Semantic: .semantic(q, target: t), floatSemantic: .semantic(f, target: t),
              int8Panoptic: .panoptic(q, target: t), floatPanoptic: .panoptic(f, target: t))
    let d = report.output
    #expect(d.maskLogits.sqnr == plain.maskLogits.sqnr && d.maskLogits.cosine == plain.maskLogits.cosine)
    #expect(d.classLogits.sqnr == plain.classLogits.sqnr)
    #expect(d.pixelAgreement == plain.pixelAgreement && d.classAgreement == plain.classAgreement && d.meanMatchedIoU == plain.meanMatchedIoU)
    // Every int8 layer has a row with data (fc2 reads fc1's int8 output; the laterals read int8 features).
    let int8 = file.tensors.filter { $0.dtype == .qgemmI8x4N16 }.map { String($0.name.dropLast(".weight".count)) }
    let rows = Dictionary(report.layers.map { ($0.layer, $0) }, uniquingKeysWith: { a, _ in a })
    for layer in int8 {
      // The int8 mask projection is folded into the mask-logit conv (MaskDecoder.fold): no layer of the float
      // graph computes what it does, so no row; the mask logits it makes are the end-to-end figures above.
      if layer.hasSuffix("decoder.mask_projection") {
        #expect(rows[layer] == nil && d.maskLogits.signal > 0, "\(layer): folded, yet a row")
        continue
      }
      let row = try #require(rows[layer], "no drift row for \(layer)")
      // The first decoder layer's value projection reads the zero target queries: no input signal.
      let zeroInput = layer.hasSuffix("decoder.layers.0.self_attn.v_proj")
      #expect(row.output.signal > 0 && (row.input.signal > 0 || zeroInput), "\(layer): nothing compared (input \(row.input.signal), output \(row.output.signal))")
    }
  }
}
