// ProcessMemory: the process's resident memory as the OS reports it (Linux /proc/self; getrusage
// elsewhere), in KiB. Its own target: the model runtime never reads /proc; the profiler, the session's
// memory budget and the CLI do.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ProcessMemory {
  /// The numeric fields of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile, ... in KiB). Off Linux,
  /// only VmHWM (getrusage's peak).
  public static func status() -> [String: Int] {
    var out: [String: Int] = [:]
    #if os(Linux)
    if let text = readSmallFile("/proc/self/status") {
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { continue }
        let num = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
        if let num { out[String(parts[0])] = num }
      }
    }
    #endif
    if out["VmHWM"] == nil { out["VmHWM"] = rusagePeakKB() }
    return out
  }

  /// Peak resident memory (VmHWM), KiB. On Linux one field scanned out of /proc/self/status (the
  /// profiler reads it at every stage and block end), not the whole file parsed.
  public static func peakResidentKB() -> Int {
    #if os(Linux)
    guard let text = readSmallFile("/proc/self/status"),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return Int(String(line.filter(\.isNumber))) ?? 0
    #else
    return rusagePeakKB()
    #endif
  }

  /// Resident memory now (VmRSS), KiB; 0 where the OS does not say.
  public static func residentNowKB() -> Int { status()["VmRSS"] ?? 0 }

  /// Resident anonymous and file-backed KiB from /proc/self/statm (resident − shared, shared); (0, 0)
  /// off Linux.
  public static func residentKB() -> (anon: Int, file: Int) {
    #if os(Linux)
    guard let text = readSmallFile("/proc/self/statm") else { return (0, 0) }
    let fields = text.split(separator: " ").compactMap { Int($0) }
    guard fields.count >= 3 else { return (0, 0) }
    let page = Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    return ((fields[1] - fields[2]) * page, fields[2] * page)
    #else
    return (0, 0)
    #endif
  }

  /// Resets the peak resident memory to the current one (Linux: writes 5 to /proc/self/clear_refs), so
  /// that a run's own peak can be read afterwards. False if unsupported.
  @discardableResult
  public static func resetPeak() -> Bool {
    #if os(Linux)
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return write(fd, "5", 1) == 1
    #else
    return false
    #endif
  }

  /// Physical memory of the machine, bytes.
  public static var physicalBytes: Int {
    #if os(Linux)
    return Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    #else
    var size: UInt64 = 0
    var len = MemoryLayout<UInt64>.size
    sysctlbyname("hw.memsize", &size, &len, nil, 0)
    return Int(size)
    #endif
  }

  /// The memory limit the kernel enforces on this process's control group, bytes (Linux cgroup v2
  /// `memory.max` or v1 `memory.limit_in_bytes`, the smallest along the group's ancestors); nil when
  /// there is none or it is not below physical memory (and on other systems).
  public static var limitBytes: Int? {
    #if os(Linux)
    guard let groups = readSmallFile("/proc/self/cgroup") else { return nil }
    var best: Int?
    func consider(_ file: String) {
      guard let text = readSmallFile(file), let v = Int(text.filter { !$0.isWhitespace }), v > 0 else { return }
      best = Swift.min(best ?? v, v)
    }
    for line in groups.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3 else { continue }
      var path = String(parts[2])
      let (roots, file): ([String], String) = parts[1].isEmpty
        ? (["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "memory.max")
        : parts[1].split(separator: ",").contains("memory") ? (["/sys/fs/cgroup/memory"], "memory.limit_in_bytes") : ([], "")
      for root in roots {
        while true {
          consider(root + (path == "/" ? "" : path) + "/" + file)
          guard let slash = path.lastIndex(of: "/"), path != "/" else { break }
          path = slash == path.startIndex ? "/" : String(path[..<slash])
        }
        path = String(parts[2])
      }
    }
    guard let limit = best, limit < physicalBytes else { return nil }
    return limit
    #else
    return nil
    #endif
  }

  static func rusagePeakKB() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss)  // KiB on Linux
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss) / 1024  // bytes on Darwin
    #endif
  }

  #if os(Linux)
  /// A /proc file read with one read(2) (they are generated on read; no stat size).
  static func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 8192)
    let n = read(fd, &buf, buf.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buf[0..<n], as: UTF8.self)
  }
  #endif
}
