// ModulePath: a module's place in the model, as typed components (the HF module tree: `model`,
// `pixel_level_module`, `encoder`, ..., list indices), built by the blocks as they load and rendered to
// Hugging Face's dotted spelling only where names meet the outside: file keys, diagnostics, profiles.

public struct ModulePath: Hashable, Sendable, CustomStringConvertible {
  public enum Component: Hashable, Sendable {
    case name(String)
    case index(Int)
  }

  public let components: [Component]

  public init(_ components: [Component]) { self.components = components }

  /// A path from HF's dotted spelling (numeric components become indices).
  public init(_ dotted: String) {
    components = dotted.split(separator: ".").map { Int($0).map(Component.index) ?? .name(String($0)) }
  }

  public static let root = ModulePath([])

  public func child(_ name: String) -> ModulePath { ModulePath(components + ModulePath(name).components) }
  public func child(_ index: Int) -> ModulePath { ModulePath(components + [.index(index)]) }
  public var parent: ModulePath { ModulePath(Array(components.dropLast())) }
  public var last: Component? { components.last }

  /// HF's spelling: `model.pixel_level_module.encoder.model.encoder.layers.0.blocks.1.attention.self`.
  public var description: String {
    components.map { c in
      switch c {
      case .name(let s): s
      case .index(let i): String(i)
      }
    }.joined(separator: ".")
  }

  /// The file key of one of the module's tensors (`weight`, `bias`, ...).
  public func key(_ tensor: String) -> String { child(tensor).description }
}
