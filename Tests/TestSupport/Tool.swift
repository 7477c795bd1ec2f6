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

/// A program the suite started that did not end in time: it and its descendants were killed.
public struct ProgramTimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Runs `executable arguments...` as ``runTool(_:input:environment:whileRunning:)`` runs `latentkit`.
///
/// The wait is bounded, so that a hung program fails its test with its command line instead of holding the whole suite
/// until CI's limit: after `timeout` seconds the program and every process it started are killed (SIGKILL) and
/// ``ProgramTimedOut`` is thrown. Its output is drained while it runs (a chatty program never blocks on a full pipe), and
/// once it has ended, output still held open by a process it left behind is read for at most 10 s more.
public func runProgram(_ executable: String, _ arguments: [String], input: String = "", environment: [String: String] = [:],
                       timeout: Double = 900, whileRunning: (Process) -> Void = { _ in }) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    process.currentDirectoryURL = URL(fileURLWithPath: packageRoot())
    let ended = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in ended.signal() }
    try process.run()
    let out = PipeDrain(stdout.fileHandleForReading), err = PipeDrain(stderr.fileHandleForReading)
    whileRunning(process)
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    if ended.wait(timeout: .now() + timeout) == .timedOut {
        let tree = [process.processIdentifier] + descendants(of: process.processIdentifier)
        for pid in tree { kill(pid, SIGKILL) }
        ended.wait()
        let tail = String(err.collected(waitingAtMost: 5).suffix(1500))
        throw ProgramTimedOut(description: "\(([executable] + arguments).joined(separator: " ")) was still running after \(Int(timeout)) s "
                              + "and was killed with its \(tree.count - 1) descendant(s); its last output: \(tail)")
    }
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, stdout: out.collected(waitingAtMost: 10),
                      stderr: err.collected(waitingAtMost: 10))
}

/// Reads a pipe to its end on a thread of its own; ``collected(waitingAtMost:)`` returns what has arrived.
private final class PipeDrain: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { data.append(chunk) }
            }
            done.signal()
        }
    }

    /// Waits for the end of the pipe, at most `seconds`, and returns what was read.
    func collected(waitingAtMost seconds: Double) -> String {
        _ = done.wait(timeout: .now() + seconds)
        done.signal()  // a later call does not wait again
        return lock.withLock { String(decoding: data, as: UTF8.self) }
    }
}

/// Every living descendant of `pid` (from /proc: each process's parent is the fourth field of its stat).
func descendants(of pid: Int32) -> [Int32] {
    var children: [Int32: [Int32]] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(child) }
    }
    var found: [Int32] = [], queue = [pid]
    while let next = queue.popLast() {
        for child in children[next] ?? [] { found.append(child); queue.append(child) }
    }
    return found
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
