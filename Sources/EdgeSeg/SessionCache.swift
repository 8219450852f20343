// SessionCache: one model over image after image of any sizes (a folder, a camera): a session per image
// size, each reused for every image of its size (its arena kept, so after the first image of a size
// nothing is allocated for activations), at most `capacity` of them alive.
import Imaging

public final class SessionCache: @unchecked Sendable {  // one thread at a time, like the sessions it owns
  public let model: SegmentationModel
  public let configuration: SessionConfiguration
  /// Sessions kept at most; beyond it the least recently used one is dropped (its arena freed).
  public let capacity: Int
  private var sessions: [Session] = []   // most recently used last

  /// `configuration.singleImage` is turned off: these sessions serve many images.
  public init(model: SegmentationModel, configuration: SessionConfiguration = SessionConfiguration(), capacity: Int = 4) {
    var c = configuration
    c.singleImage = false
    self.model = model
    self.configuration = c
    self.capacity = Swift.max(1, capacity)
  }

  /// Sessions alive now.
  public var count: Int { sessions.count }
  /// Sessions made so far (a new image size, or one evicted and needed again).
  public private(set) var made = 0
  private var evictedFallbacks = 0

  /// Arena requests that fell back to the heap (the memory plan was too small), over every session made.
  public var arenaFallbacks: Int { evictedFallbacks + sessions.reduce(0) { $0 + $1.arena.statistics.fallbacks } }

  /// The session for images of `image`'s size (EXIF orientation applied), made on first use.
  public func session(for image: Image) throws(SessionError) -> Session {
    let size = image.orientedSize
    if let i = sessions.firstIndex(where: { $0.imageSize == size }) {
      let s = sessions.remove(at: i)
      sessions.append(s)
      return s
    }
    let s = try model.session(for: image, configuration: configuration)
    made += 1
    if sessions.count >= capacity { evictedFallbacks += sessions.removeFirst().arena.statistics.fallbacks }
    sessions.append(s)
    return s
  }

  /// Segments `image` with the session of its size.
  public func segment(_ image: Image, options: SegmentationOptions = .pipeline) throws(SessionError) -> SegmentationResult {
    try session(for: image).segment(image, options: options)
  }
}
