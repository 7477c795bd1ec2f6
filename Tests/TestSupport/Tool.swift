// Runs the built `latentkit` binary, as a user would.

import Foundation

public struct ToolResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// The `latentkit` executable built beside the test bundle (`swift test` builds every product).
public var toolPath: String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("latentkit").path
}

/// Runs `latentkit arguments...` with `input` on standard input and `environment` added to this process's.
/// `whileRunning` is called with the process once it has started (e.g. to send it a signal).
public func runTool(_ arguments: [String], input: String = "", environment: [String: String] = [:],
                    whileRunning: (Process) -> Void = { _ in }) throws -> ToolResult {
    try runProgram(toolPath, arguments, input: input, environment: environment, whileRunning: whileRunning)
}

/// Runs `executable arguments...` as ``runTool(_:input:environment:whileRunning:)`` runs `latentkit`.
public func runProgram(_ executable: String, _ arguments: [String], input: String = "", environment: [String: String] = [:],
                       whileRunning: (Process) -> Void = { _ in }) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    process.currentDirectoryURL = URL(fileURLWithPath: packageRoot())
    try process.run()
    whileRunning(process)
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self))
}

/// Runs `executable` with `arguments`, its output discarded; returns its exit status.
public func runCommand(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
