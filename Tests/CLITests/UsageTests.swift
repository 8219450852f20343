// The CLI's help: every command answers --help (exit 0) with its usage, `edge-seg --version` prints the
// version, and every flag README's command list shows appears in the usage text (and is accepted).
import Foundation
import Testing
import _TestSupport

@Suite struct UsageTests {
  /// stdout and the exit status of the built CLI.
  func stdout(_ args: [String]) throws -> (status: Int32, out: String) {
    let r = try Products.capture("edge-seg", args)
    return (r.status, r.stdout)
  }

  static let commands = ["run", "convert", "eval", "drift", "profile", "verify", "decode", "compare", "info"]

  @Test func everyCommandHasHelp() throws {
    for c in Self.commands {
      let r = try stdout([c, "--help"])
      #expect(r.status == 0 && r.out.contains("usage: edge-seg \(c)"), "\(c) --help: exit \(r.status)\n\(r.out)")
      let h = try stdout(["help", c])
      #expect(h.status == 0 && h.out == r.out, "edge-seg help \(c)")
    }
    let v = try stdout(["--version"])
    #expect(v.status == 0 && v.out.hasPrefix("edge-seg ") && v.out.contains("model file format"), "\(v.out)")
  }

  /// Each `--flag` in README's Commands block is in the usage of the command it is listed under.
  @Test func usageListsEveryFlagReadmeShows() throws {
    let readme = try String(contentsOfFile: Fixtures.repository + "/README.md", encoding: .utf8)
    let start = try #require(readme.range(of: "## Commands\n\n```\n"))
    let block = readme[start.upperBound...].prefix { _ in true }
    let end = try #require(block.range(of: "```"))
    var checked = 0
    var current = ""
    for line in block[..<end.lowerBound].split(separator: "\n") {
      let words = line.split(separator: " ")
      if words.first == "edge-seg", words.count > 1 { current = String(words[1]) }
      guard Self.commands.contains(current) else { continue }
      let usage = try stdout([current, "--help"]).out
      for flag in line.matches(of: /--[a-z][a-z0-9-]*/).map({ String($0.output) }) {
        #expect(usage.contains(flag), "README lists \(flag) for \(current); its usage does not")
        checked += 1
      }
    }
    #expect(checked > 30, "\(checked) flags checked")
  }

  /// Every command line anywhere in README (`edge-seg CMD ...`, `swift run -c release edge-seg CMD ...`) uses only
  /// flags that command's usage shows: an example a user copies must not fail on an unknown option.
  @Test func readmeExamplesUseKnownFlags() throws {
    let readme = try String(contentsOfFile: Fixtures.repository + "/README.md", encoding: .utf8)
    var usages: [String: String] = [:]
    var checked = 0
    for line in readme.split(separator: "\n") {
      guard let m = line.firstMatch(of: /edge-seg ([a-z]+)(.*)/), Self.commands.contains(String(m.output.1)) else { continue }
      let command = String(m.output.1)
      if usages[command] == nil { usages[command] = try stdout([command, "--help"]).out }
      for flag in m.output.2.matches(of: /(?:^|\s)(--[a-z][a-z0-9-]*)/).map({ String($0.output.1) }) {
        #expect(usages[command]!.contains(flag), "README: `\(line)` uses \(flag), which `edge-seg \(command)` does not take")
        checked += 1
      }
    }
    #expect(checked > 10, "\(checked) flags checked")
  }
}
