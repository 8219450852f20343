// edge-seg: command-line entry. Switches on the subcommand; flags and help live in Usage.swift.
import EdgeSeg
import Foundation

// A model file truncated (or its storage failing) under a running process: the next read of a lost page
// of the mapping raises SIGBUS. Nothing can be recovered in place; say what happened and exit 74 (EX_IOERR)
// instead of dying silently. (Replacing a model by rename, as `convert` does, never causes this.)
installMappedFileFaultHandler()

let args = CommandLine.arguments.dropFirst()
guard let command = args.first else {
  FileHandle.standardError.write(Usage.all + "\n")
  exit(64)
}
let status: Int32
switch command {
case "run": status = runCommand(args.dropFirst())
case "compare": status = compareCommand(args.dropFirst())
case "decode": status = decodeCommand(args.dropFirst())
case "convert": status = convertCommand(args.dropFirst())
case "verify": status = verifyCommand(args.dropFirst())
case "info": status = infoCommand(args.dropFirst())
case "eval": status = evalCommand(args.dropFirst())
case "drift": status = driftCommand(args.dropFirst())
case "profile": status = profileCommand(args.dropFirst())
case "--version", "version":
  print(Usage.version)
  status = 0
case "help", "--help", "-h":
  if let name = args.dropFirst().first, Usage.commands.contains(where: { $0.name == name }) {
    print(Usage.help(name))
  } else {
    print(Usage.all)
  }
  status = 0
default:
  FileHandle.standardError.write("edge-seg: unknown command '\(command)'\n\(Usage.all)\n")
  status = 64
}
exit(status)
