// The safetensors reader against files it did not write: every size is checked before anything is allocated, and a
// bad file is a one-line error naming it (issue 12: a negative shape used to kill `latentkit eval` with SIGILL).

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct CheckpointTests {
    /// A safetensors file: the 8-byte little-endian header length, the header, then `payload` bytes.
    static func file(header: String, payload: Int) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xFF) } + h + [UInt8](repeating: 0, count: payload)
    }

    /// (header, payload bytes, what the error says)
    static let broken: [(String, Int, String)] = [
        (#"{"w":{"dtype":"F32","shape":[1,-1],"data_offsets":[4,0]}}"#, 8, "has shape [1, -1]"),
        (#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#, 8, "which does not fit a file"),
        (#"{"w":{"dtype":"F32","shape":[1000000000000],"data_offsets":[0,4000000000000]}}"#, 8, "which does not fit a file"),
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "has offsets [8, 0]"),
        (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8, "has offsets [0, 16]"),
        (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[100,104]}}"#, 8, "has offsets [100, 104]"),
        (#"{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, 8, "is F16"),
        (#"{"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}"#, 8, "malformed entry"),
        (#"[1, 2]"#, 8, "header is not a JSON object"),
        (#"{"w":"#, 8, "header is not a JSON object"),
    ]

    @Test(arguments: 0..<broken.count)
    func badFilesAreClearErrors(index: Int) throws {
        let dir = try temporaryDirectory("safetensors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (header, payload, message) = Self.broken[index]
        let path = dir + "/checkpoint.safetensors"
        try Data(Self.file(header: header, payload: payload)).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try Checkpoint.read(path)
        } throws: { error in
            "\(error)".contains(message) && "\(error)".contains(path)
        }
    }

    @Test func headerLongerThanTheFileIsAnError() throws {
        let dir = try temporaryDirectory("safetensors-length")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/c.safetensors"
        try Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B, 0x7D]).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.self) { try Checkpoint.read(path) }
    }

    /// The case from issue 12 through the command line: `eval` of a run whose checkpoint has a negative shape.
    @Test func evalOfARunWithABadCheckpointIsAOneLineError() throws {
        let dir = try temporaryDirectory("safetensors-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--out", run])
        try #require(train.status == 0, "\(train.stderr)")
        try Data(Self.file(header: Self.broken[0].0, payload: 8)).write(to: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        let eval = try runTool(["eval", run, "--backend", "cpu", "--k", "0"])
        #expect(eval.status == 1 && eval.stderr.contains("has shape [1, -1]"), "\(eval.status): \(eval.stderr)")
        #expect(eval.stderr.split(separator: "\n").count == 1, "one line: \(eval.stderr)")
    }
}
