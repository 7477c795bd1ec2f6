// The `latentkit` command-line tool.

import ArgumentParser
import Foundation
import LatentKit

@main
struct LatentKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latentkit",
        abstract: "Variational autoencoders with discrete and simplex-valued latents, on OpenCL GPUs or the CPU.",
        subcommands: [TrainCommand.self, EvalCommand.self, SampleCommand.self, EncodeCommand.self, AnalyzeCommand.self, PlotsCommand.self,
                      ReportCommand.self, TopicsCommand.self, DevicesCommand.self, SelfTestCommand.self, BenchCommand.self, OpCommand.self]
    )

    /// ArgumentParser's main, with the OpenCL backend shut down before the process exits, whatever the outcome: glibc's
    /// `exit` destroys thread-local storage before it runs `atexit` handlers and static destructors, and OpenCL runtimes
    /// keep per-thread state there (Oclgrind's use-after-free, seen as heap corruption at exit).
    ///
    /// Under `mpirun` (a data-parallel `train` or `eval`), every rank finalises MPI at the end; a rank that fails prints
    /// its error prefixed by its rank and ends the whole job (MPI_Abort), so that no other rank waits for it in a
    /// collective, unless every rank raised the same error together (a disagreement found by a collective).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            OpenCLBackend.shutDownShared()
            if let communicator = Communicator.ifMade, communicator.size > 1 {
                let code = exitCode(for: error)
                if code != .success {
                    let message = error is ExitCode ? "" : "rank \(communicator.rank) of \(communicator.size) (\(Communicator.hostName())): \(error)\n"
                    FileHandle.standardError.write(Data(message.utf8))
                    if (error as? DistributedError)?.isCollective != true && code.rawValue != 130 { communicator.abort(code: code.rawValue) }
                }
                communicator.finalize(exitCode: code.rawValue)
                Foundation.exit(code.rawValue)
            }
            Communicator.ifMade?.finalize(exitCode: exitCode(for: error).rawValue)
            exitWithOneLine(error)
        }
        OpenCLBackend.shutDownShared()
        Communicator.ifMade?.finalize()
    }
}

extension LatentKitCommand {
    /// ArgumentParser's exit, with an error printed as one line: ArgumentParser follows a flag's error with the command's
    /// usage and a help hint, and lists an option's allowed values one a line; a user (and a script reading stderr) gets
    /// the message alone, its lines joined. Help, `--version` and a bare exit code go through ArgumentParser unchanged.
    static func exitWithOneLine(_ error: Error) -> Never {
        let code = exitCode(for: error)
        guard code != .success, !(error is ExitCode) else { exit(withError: error) }
        let text = message(for: error).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        FileHandle.standardError.write(Data("Error: \(text)\n".utf8))
        Foundation.exit(code.rawValue)
    }
}

/// `--backend auto|cpu|opencl`, shared by every subcommand that computes.
struct BackendOptions: ParsableArguments {
    @Option(help: "Compute backend: auto (an OpenCL GPU if present, else the CPU), cpu, or opencl.")
    var backend: BackendChoice = .auto

    /// The chosen backend; a missing OpenCL platform for `--backend opencl` is a thrown ``BackendError``, which
    /// ArgumentParser prints as one line before exiting with status 1.
    func make() throws -> any Backend { try Backends.make(backend) }
}

extension BackendChoice: ExpressibleByArgument {}
extension UnaryOp: ExpressibleByArgument {}

/// Writes `value` as indented JSON with sorted keys to `path` (the `--json` files of `selftest` and `bench`).
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do {
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    } catch {
        throw ToolError("cannot write \(path): \(error.localizedDescription)")
    }
}

/// Checks, before a command's work, that `path` can be written as a file: its folder exists and is writable, and it is
/// not itself a folder. A run's minutes are not spent only to find the output refused at the end.
func requireWritableFile(_ path: String, flag: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw ValidationError("\(flag) \(path): the folder \(folder) does not exist or is not writable")
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw ValidationError("\(flag) \(path) is a folder; name a file")
    }
}

/// An error the tool reports as one line and a non-zero exit.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
