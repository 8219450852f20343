// Fixtures: where the committed test fixtures live and how to compare tensors against goldens.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public enum Fixtures {
  /// Tests/Fixtures, found from this source file so tests run from any working directory.
  public static var root: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures").path
  }
  public static func path(_ parts: String...) -> String { ([root] + parts).joined(separator: "/") }
  /// The repository root (Calibration/, fuzz/, Models/ live there).
  public static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
  }
  /// The checkpoints made by tools/reference/maskformer_ref.py.
  public static let models = ["tiny", "smallmaps", "labels", "threestage"]
}

/// The first element where |actual − expected| exceeds `tolerance · max(1, max|expected|)`, or nil.
public struct GoldenMismatch: CustomStringConvertible, Sendable {
  public var name: String
  public var index: Int
  public var actual: Float
  public var expected: Float
  public var maxAbsError: Float
  public var bound: Float
  public var description: String {
    "\(name): index \(index): ours \(actual) vs reference \(expected) (max abs error \(maxAbsError) > bound \(bound))"
  }
}

public func compareGolden(_ name: String, actual: [Float], expected: [Float], tolerance: Float) -> (mismatch: GoldenMismatch?, maxAbsError: Float) {
  precondition(actual.count == expected.count, "\(name): \(actual.count) values vs \(expected.count) in the golden")
  let scale = max(1, expected.reduce(0) { max($0, abs($1)) })
  let bound = tolerance * scale
  var worst: Float = 0, worstIndex = 0
  for i in actual.indices {
    let e = abs(actual[i] - expected[i])
    if !(e <= worst) { worst = e; worstIndex = i }   // NaN counts as the worst
  }
  if !(worst <= bound) {
    return (GoldenMismatch(name: name, index: worstIndex, actual: actual[worstIndex], expected: expected[worstIndex],
                           maxAbsError: worst, bound: bound), worst)
  }
  return (nil, worst)
}

/// The bytes of a file.
public func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
