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

/// Writes `bytes` to `path` (created or truncated, mode 0644) with open/write/close and no fsync. For files
/// staged in a folder that is renamed into place once whole (`run`'s outputs): `Data.write(to:)` fsyncs
/// every file, ~6 % of a batch's CPU for eight small files per image.
public func writeFileContents(_ path: String, _ bytes: [UInt8]) throws(WriteError) {
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
  var failure: Int32 = 0
  bytes.withUnsafeBytes { buf in
    var done = 0
    while done < buf.count {
      let n = write(fd, buf.baseAddress! + done, buf.count - done)
      if n < 0 {
        if errno == EINTR { continue }
        failure = errno
        return
      }
      done += n
    }
  }
  if close(fd) != 0 && failure == 0 { failure = errno }
  if failure != 0 { throw WriteError(path: path, reason: String(cString: strerror(failure))) }
}
