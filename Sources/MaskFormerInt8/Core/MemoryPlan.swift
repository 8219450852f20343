// MemoryPlan: the activation memory of one image (pre-processing, forward pass, post-processing) and
// the streaming parameters (`tokenChunk`, `bandRows`) that keep it under a budget (`edge-seg run
// --max-memory`). The arena part is not predicted beside the code: it is a dry run of that code
// (`Arena.dryRun()`, `InferenceContext.isDryRun`): the forward pass runs with every kernel and data
// loop skipped, makes every request a real run makes, in the same order and with the same first-fit
// layout, and `MemoryPhases` reads the arena's peak of live bytes in each phase. Only what lives on the
// heap (the decoded image, the output map, the post-processing's row buffers) is added by shape.
// Weights and the process's own baseline (binary, runtime) are the caller's to add.
import Kernels

public struct MemoryPlan: Sendable, Equatable {
  public var tokenChunk: Int
  /// `Int.max`: the stride-4 maps whole.
  public var bandRows: Int
  /// Predicted peak of the activations, bytes (the largest phase's arena and heap bytes plus
  /// `fixedOverhead`), and the phase where it lies.
  public var predictedBytes: Int
  public var phase: String
  /// The arena for this plan: the dry run's high-water mark (the region a real run touches) plus
  /// 1/16 and 1 MiB of slack.
  public var arenaBytes: Int
  /// Each phase in the order it first ran: the dry run's peak of live arena bytes and the heap bytes
  /// added by shape.
  public var phases: [Phase]

  public struct Phase: Sendable, Equatable {
    public var name: String
    public var arenaBytes: Int
    public var heapBytes: Int
    public init(name: String, arenaBytes: Int, heapBytes: Int) {
      self.name = name
      self.arenaBytes = arenaBytes
      self.heapBytes = heapBytes
    }
  }

  /// Candidate settings from fastest (whole maps) to leanest.
  public static let candidates: [(tokenChunk: Int, bandRows: Int)] = [
    (4096, .max), (4096, 64), (4096, 32), (2048, 16), (1024, 8), (512, 4),
  ]

  /// Allocator and thread overheads not in the buffers, and the margin a plan must leave.
  public static let fixedOverhead = 6 << 20
  public static let margin = 0.02

  /// A plan from the phases of a dry run.
  public init(tokenChunk: Int, bandRows: Int, phases: [Phase], highWater: Int) {
    self.tokenChunk = tokenChunk
    self.bandRows = bandRows
    self.phases = phases
    let peak = phases.max { $0.arenaBytes + $0.heapBytes < $1.arenaBytes + $1.heapBytes }
    predictedBytes = (peak.map { $0.arenaBytes + $0.heapBytes } ?? 0) + Self.fixedOverhead
    phase = peak?.name ?? ""
    arenaBytes = highWater + highWater / 16 + (1 << 20)
  }

  /// The fastest candidate whose predicted activations, plus `margin`, fit `budget` bytes, or an
  /// error with the leanest plan's prediction when none does. `plan` makes the plan of one candidate.
  public static func choose(budget: Int, _ plan: (_ tokenChunk: Int, _ bandRows: Int) -> MemoryPlan) -> Result<MemoryPlan, MemoryPlanError> {
    var tried: [MemoryPlan] = []
    for c in candidates {
      let p = plan(c.tokenChunk, c.bandRows)
      if Double(p.predictedBytes) * (1 + margin) <= Double(budget) { return .success(p) }
      tried.append(p)
    }
    let leanest = tried.last!
    let near = tried.first { Double($0.predictedBytes) <= Double(leanest.predictedBytes) * (1 + nearLeanest) }!
    return .failure(MemoryPlanError(budget: budget, leanest: leanest, nearLeanest: near))
  }

  /// How close to the leanest prediction a faster plan may come to stand in for it where no plan fits a soft
  /// target (`.automatic`): leaner candidates' smaller chunks and bands cost time and often save little
  /// (Mask2Former at 2048x2048: bands of 64 rows within 1 % of bands of 4).
  public static let nearLeanest = 1.0 / 32

  /// One image through a dry-run arena: `preprocess` allocates the model input, `forward` runs the
  /// network on it, `postprocess` takes the scratch that post-processing takes from the logits' arena.
  /// Returns each phase's peak of live arena bytes, in the order the phases first ran, and the arena's
  /// high-water mark.
  public static func dryRun<Logits>(kernels: KernelTable, threads: Int, tokenChunk: Int, bandRows: Int,
                                    preprocess: (Arena) -> ArenaArray<Float>,
                                    forward: (consuming ArenaArray<Float>, InferenceContext) -> Logits,
                                    postprocess: (borrowing Logits, Arena) -> Void) -> (phases: [(name: String, bytes: Int)], highWater: Int) {
    let arena = Arena.dryRun()
    var ctx = InferenceContext(kernels: kernels, threads: threads)
    (ctx.tokenChunk, ctx.bandRows, ctx.arena) = (tokenChunk, bandRows, arena)
    let phases = MemoryPhases(arena: arena)
    ctx.observer = phases
    func stage(_ name: String, _ body: () -> Void) {
      phases.begin(OpInfo(name: name, kind: "stage"), input: nil)
      body()
      phases.end(OpInfo(name: name, kind: "stage"), output: nil, shape: [])
    }
    do {
      var pixelValues: ArenaArray<Float>?
      stage("preprocess") { pixelValues = preprocess(arena) }
      var logits: Logits?
      stage("model") { logits = forward(pixelValues.take()!, ctx) }
      stage("postprocess") { postprocess(logits!, arena) }
    }
    return (phases.peaks, arena.statistics.highWater)
  }
}

/// The arena's peak of live bytes in each phase of a run, as an observer sees the phases: the stages
/// (`preprocess`, `model`, `postprocess`, `backbone`, `encoder.stage0`, `pixel_decoder`, ...), the
/// patch embedding and each patch merging. Time between a phase's nested phases counts for it; time
/// after the last phase ended counts for the one that ended. Used by the dry run, and by tests on a
/// real run to check it.
public final class MemoryPhases: GraphObserver {
  public let arena: Arena
  /// In the order the phases first ran.
  public private(set) var order: [String] = []
  private var bytes: [String: Int] = [:]
  private var stack: [String] = []
  private var current = ""

  public init(arena: Arena) {
    self.arena = arena
    arena.resetStatistics()
  }

  /// Live bytes only: the graph runs as it does unobserved (fused, streamed), so the plan is of that run.
  public var readsValues: Bool { false }

  public static func isPhase(_ op: OpInfo) -> Bool {
    op.kind == "stage" || op.name == "encoder.embeddings" || op.name.hasSuffix(".downsample")
  }

  /// Each phase and its peak of live bytes so far.
  public var peaks: [(name: String, bytes: Int)] {
    close()
    return order.map { ($0, bytes[$0]!) }
  }

  public func begin(_ op: OpInfo, input: TensorView?) {
    guard Self.isPhase(op) else { return }
    close()
    stack.append(op.name)
    current = op.name
  }

  public func end(_ op: OpInfo, output: TensorView?, shape: [Int]) {
    guard Self.isPhase(op) else { return }
    close()
    stack.removeLast()
    if let top = stack.last { current = top }
  }

  /// Charges the peak since the last phase change to the current phase.
  private func close() {
    guard !current.isEmpty else { return }
    let peak = arena.statistics.peakInUse
    if bytes[current] == nil { order.append(current) }
    bytes[current] = Swift.max(bytes[current] ?? 0, peak)
    arena.resetStatistics()
  }
}

public struct MemoryPlanError: Error, Sendable, CustomStringConvertible {
  public var budget: Int
  public var leanest: MemoryPlan
  /// The fastest plan predicted within `MemoryPlan.nearLeanest` of the leanest.
  public var nearLeanest: MemoryPlan

  public var description: String {
    "needs at least \(leanest.predictedBytes >> 20) MiB for activations (streamed as far as edge-seg can, peak in \(leanest.phase)); "
      + "the budget leaves \(Swift.max(0, budget) >> 20) MiB"
  }
}
