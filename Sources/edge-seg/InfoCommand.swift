// `edge-seg info MODEL [--json]`: what a model file or checkpoint folder holds (EdgeSeg.ModelInfo).
import EdgeSeg
import Foundation

func infoCommand(_ args: ArraySlice<String>) -> Int32 {
  let opts: OptionParser
  do { opts = try OptionParser(args, command: "info") } catch {
    return optionFailure(error, command: "info")
  }
  guard opts.positional.count == 1 else {
    printError("info: expected one MODEL (a model file or a checkpoint folder)", hint: "edge-seg help info")
    return 64
  }
  do {
    let info = try ModelInfo(path: opts.positional[0])
    if opts.isSet("--json") {
      let e = JSONEncoder()
      e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      FileHandle.standardOutput.write(try e.encode(info) + Data([10]))
    } else {
      print(info.text)
    }
    return 0
  } catch {
    return report(error)
  }
}
