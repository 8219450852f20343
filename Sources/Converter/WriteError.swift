// WriteError: an output file could not be written (the CLI's exit code 73).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file could not be written (exit code 73 in the CLI): the path and the system's reason.
public struct WriteError: Error, CustomStringConvertible {
  public var path: String
  public var reason: String
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }
  public var description: String { "\(path): cannot write: \(reason)" }

  /// The POSIX reason inside a Foundation error, if any.
  public init(path: String, _ error: any Error) {
    let ns = error as NSError
    let underlying = (ns.userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
    let code = underlying?.domain == NSPOSIXErrorDomain ? underlying!.code : (ns.domain == NSPOSIXErrorDomain ? ns.code : 0)
    self.init(path: path, reason: code != 0 ? String(cString: strerror(Int32(code))) : "\(error)")
  }
}
