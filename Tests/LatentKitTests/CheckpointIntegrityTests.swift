// Checkpoints that prove themselves (issue 24): every tensor's and the header's CRC-32C in the metadata, checked on every
// read; the checkpoint before the last kept beside it; `train --resume` falling back to it and the reading commands
// refusing a damaged file. The CRC against published values, every single-bit flip of a file refused, and a write
// stopped after each of its steps (where a kill -9 can land) always leaving a verified checkpoint to resume.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct CheckpointIntegrityTests {
    /// RFC 3720 (iSCSI), appendix B.4, and the "123456789" check value of the CRC catalogue.
    @Test func crc32cMatchesPublishedValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map(UInt8.init)) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // eight bytes a step and the tail byte by byte agree, at every split of a message
        let message = (0..<45).map { UInt8(($0 * 37 + 11) & 0xFF) }
        let whole = CRC32C.checksum(message)
        for split in 0...message.count {
            let first = CRC32C.checksum(message[..<split])
            let both = message[split...].withContiguousStorageIfAvailable { CRC32C.checksum(UnsafeRawBufferPointer($0), continuing: first) }
            #expect(both == whole, "split at \(split)")
        }
        #expect(CRC32C.hex(0xE306_9283) == "e3069283" && CRC32C.hex(0x0A) == "0000000a")
    }

    static func sample() -> Checkpoint {
        var c = Checkpoint()
        c.add("encoder.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
        c.add("decoder.bias", shape: [4], values: [0, .pi, -0, 1e-30])
        c.add("adam.step", shape: [1, 1], values: [7])
        c.metadata = ["epoch": "3", "step_in_epoch": "0", "format": "latentkit"]
        return c
    }

    @Test func aWrittenCheckpointReadsBackVerified() throws {
        let c = Self.sample()
        let back = try Checkpoint.decode(c.encoded(), path: "c")
        #expect(back.verified && back.tensors == c.tensors && back.metadata == c.metadata)
        #expect(!c.verified, "a checkpoint built in memory was never checked")
    }

    /// Every bit of a small checkpoint (length, header, metadata, every tensor), flipped one at a time: none loads.
    @Test func everySingleBitFlipIsRefused() throws {
        let bytes = Self.sample().encoded()
        var loaded: [Int] = []
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            if (try? Checkpoint.decode(flipped, path: "c")) != nil { loaded.append(bit) }
        }
        #expect(loaded.isEmpty, "\(loaded.count) of \(bytes.count * 8) flipped bits loaded, the first at bit \(loaded.first ?? -1)")
    }

    /// A trained model's checkpoint, flipped at 300 random bits (a fixed seed) and at one bit of every tensor.
    @Test func randomFlipsOfATrainedCheckpointAreRefused() throws {
        let backend = try TestBackends.backend(.cpu)
        var config = RunConfig()
        config.batchSize = 32
        config.model.hidden = [32, 32]
        config.model.latentSize = 8
        let trainer = try Trainer(config: config, backend: backend, train: try mnist(trainLimit: 64, testLimit: 1).train)
        let checkpoint = try trainer.checkpoint()
        let bytes = checkpoint.encoded()
        var state: UInt64 = 24
        func next() -> UInt64 {  // a 64-bit LCG (Knuth's MMIX constants), its high bits
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        var positions = (0..<300).map { _ in Int(next() % UInt64(bytes.count * 8)) }
        // one bit inside each tensor's data: the data follow the header, in the order of `names`
        let headerEnd = 8 + bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var offset = headerEnd
        for name in checkpoint.names {
            let size = checkpoint.tensors[name]!.values.count * 4
            if size > 0 { positions.append((offset + Int(next() % UInt64(size))) * 8 + 5) }
            offset += size
        }
        for bit in positions {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: DataError.self, "bit \(bit) of \(bytes.count * 8)") { try Checkpoint.decode(flipped, path: "c") }
        }
    }

    @Test func aMalformedOrMissingChecksumIsAClearError() throws {
        let bytes = Self.sample().encoded()
        func replacing(_ old: String, _ new: String) -> [UInt8] {
            var s = bytes
            let o = Array(old.utf8), n = Array(new.utf8)
            let at = (0...(s.count - o.count)).first { s[$0..<($0 + o.count)].elementsEqual(o) }!
            s.replaceSubrange(at..<(at + o.count), with: n)
            return s
        }
        let header = String(decoding: bytes, as: UTF8.self)
        let digits = header.range(of: #""crc32c_header":""#)!.upperBound
        let recorded = String(header[digits...].prefix(8))
        let cases: [([UInt8], String)] = [
            (replacing(#""crc32c_header":"\#(recorded)""#, #""crc32c_header":"zzzzzzzz""#), "checksum field is malformed"),
            (replacing(#""crc32c_header""#, #""crc32c_headeR""#), "checksum record is incomplete"),
        ]
        for (file, message) in cases {
            #expect { try Checkpoint.decode(file, path: "dir/c.safetensors") } throws: { error in
                "\(error)".contains(message) && "\(error)".hasPrefix("dir/c.safetensors: ") && !"\(error)".contains("\n")
            }
        }
    }

    /// A checkpoint written before checksums (no crc32c keys) still loads, unverified.
    @Test func aCheckpointWithoutChecksumsLoadsUnverified() throws {
        let legacy = Self.legacyFile(Self.sample())
        let back = try Checkpoint.decode(legacy, path: "c")
        #expect(!back.verified && back.tensors == Self.sample().tensors && back.metadata == Self.sample().metadata)
    }

    /// The file an older LatentKit wrote: the same layout without the checksum keys (config.json's too).
    static func legacyFile(_ c: Checkpoint) -> [UInt8] {
        let metadata = c.metadata.filter { !$0.key.hasPrefix("crc32c_") }
        var header = "{\"__metadata__\":{" + metadata.keys.sorted().map { "\"\($0)\":\"\(metadata[$0]!)\"" }.joined(separator: ",") + "}"
        var data: [UInt8] = []
        for name in c.names {
            let values = c.tensors[name]!
            header += ",\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(values.shape),\"data_offsets\":[\(data.count),\(data.count + values.values.count * 4)]}"
            for v in values.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        header += "}"
        let h = Array(header.utf8)
        return (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xFF) } + h + data
    }

    /// A write stopped after each of its steps, as a kill -9 would stop it (and inside the first, with half a temporary
    /// file): a verified checkpoint is always there to resume, the new one or the one before; and the one before
    /// that stays as the previous until the new one is in place.
    @Test func aWriteStoppedAtAnyStepLeavesAVerifiedCheckpoint() throws {
        let dir = try temporaryDirectory("checkpoint-steps")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func checkpoint(epoch: Int) -> Checkpoint {
            var c = Self.sample()
            c.add("encoder.weight", shape: [2, 3], values: (0..<6).map { Float($0 + 10 * epoch) })
            c.metadata["epoch"] = "\(epoch)"
            return c
        }
        let steps = checkpoint(epoch: 3).writeSteps(to: dir + "/x", keepingPrevious: true).count
        #expect(steps == 5, "write, link, rename previous, rename, flush directory")
        for stop in 0...steps {
            for partial in stop == 0 ? [false, true] : [false] {
                let run = RunDirectory("\(dir)/run-\(stop)-\(partial)")
                try run.create()
                try checkpoint(epoch: 1).write(to: run.checkpoint, keepingPrevious: true)
                try checkpoint(epoch: 2).write(to: run.checkpoint, keepingPrevious: true)
                for step in checkpoint(epoch: 3).writeSteps(to: run.checkpoint, keepingPrevious: true).prefix(stop) { try step.run() }
                if partial { try Data(checkpoint(epoch: 3).encoded().prefix(100)).write(to: URL(fileURLWithPath: run.checkpoint + ".tmp")) }
                let (resumed, notice) = try run.readCheckpointForResume(movingDamagedAside: true)
                #expect(notice == nil && resumed.verified)
                #expect(resumed.metadata["epoch"] == (stop >= 4 ? "3" : "2"), "stopped after \(stop) steps")
                let previous = try Checkpoint.read(run.previousCheckpoint).metadata["epoch"]
                #expect(previous == (stop >= 3 ? "2" : "1"), "stopped after \(stop) steps")
                // the next write after a resume completes the pair again
                try checkpoint(epoch: 4).write(to: run.checkpoint, keepingPrevious: true)
                #expect(try Checkpoint.read(run.checkpoint).metadata["epoch"] == "4")
                #expect(try Checkpoint.read(run.previousCheckpoint).metadata["epoch"] == (stop >= 4 ? "3" : "2"))
            }
        }
    }

    /// Through the command line: a flipped bit in a trained run's checkpoint. `eval` refuses it naming the previous
    /// checkpoint; `train --resume` falls back to that one in one line, says what it loses and keeps the bad file aside.
    /// An edited config.json is named; a checkpoint without checksums is a notice.
    @Test func theCommandsRefuseADamagedCheckpointAndResumeFallsBack() throws {
        let dir = try temporaryDirectory("checkpoint-damage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir + "/run")
        let small = ["--backend", "cpu", "--limit", "200", "--hidden", "16,16", "--latent-size", "4"]
        let train = try runTool(["train"] + small + ["--epochs", "3", "--out", run.path])
        try #require(train.status == 0, "\(train.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: run.checkpoint)))
        bytes[bytes.count - 9] ^= 0x04
        try Data(bytes).write(to: URL(fileURLWithPath: run.checkpoint))

        let eval = try runTool(["eval", run.path, "--backend", "cpu", "--k", "0", "--limit", "50"])
        #expect(eval.status == 1 && eval.stderr.contains("fails its CRC-32C check") && eval.stderr.contains(run.previousCheckpoint)
                && eval.stderr.contains("after 2 epochs"), "\(eval.status): \(eval.stderr)")
        #expect(eval.stderr.split(separator: "\n").count == 1, "one line: \(eval.stderr)")

        let resume = try runTool(["train", "--resume", run.path, "--backend", "cpu"])
        #expect(resume.status == 0, "\(resume.stderr)")
        let notice = resume.stderr.split(separator: "\n").filter { $0.hasPrefix("note:") }
        #expect(notice.count == 1 && notice[0].contains("resuming from \(run.previousCheckpoint)") && notice[0].contains("loses 1 epoch of")
                && notice[0].contains(run.damagedCheckpoint), "\(resume.stderr)")
        #expect(resume.stdout.contains("resuming \(run.path) at epoch 3"), "\(resume.stdout)")
        #expect(try Checkpoint.read(run.checkpoint).metadata["epoch"] == "3" && FileManager.default.fileExists(atPath: run.damagedCheckpoint))
        #expect(try run.readMetrics().compactMap { $0["epoch"] as? Int } == [1, 2, 3])

        // config.json edited after training: named, nothing loaded
        let config = try String(contentsOfFile: run.config, encoding: .utf8)
        try config.replacingOccurrences(of: "\"seed\"", with: "\"seed\" ").write(toFile: run.config, atomically: true, encoding: .utf8)
        let edited = try runTool(["eval", run.path, "--backend", "cpu", "--k", "0", "--limit", "50"])
        #expect(edited.status == 1 && edited.stderr.contains("config.json has changed since"), "\(edited.stderr)")
        try config.write(toFile: run.config, atomically: true, encoding: .utf8)

        // a checkpoint from before checksums: loads with one notice
        try Data(Self.legacyFile(try Checkpoint.read(run.checkpoint))).write(to: URL(fileURLWithPath: run.checkpoint))
        let old = try runTool(["eval", run.path, "--backend", "cpu", "--k", "0", "--limit", "50"])
        #expect(old.status == 0 && old.stderr.contains("written before checkpoints carried checksums") && old.stderr.split(separator: "\n").count == 1,
                "\(old.stderr)")
    }
}
