// A run's checkpoints as the commands read them: verified against their checksums (and against the run's config.json,
// whose checksum the trainer records), with the checkpoint before the last kept beside it. `train --resume` falls back
// to that one when the last is damaged; the commands that only read a run refuse a damaged checkpoint and name the good
// one instead, since silently evaluating other weights than the user's last would be worse than stopping.

import Foundation

extension RunDirectory {
    /// The checkpoint before the last (``Checkpoint/write(to:keepingPrevious:)``).
    public var previousCheckpoint: String { Checkpoint.previousPath(of: checkpoint) }
    /// Where `train --resume` moves a checkpoint that failed verification, so that it is kept for a look but never
    /// becomes a "previous" checkpoint.
    public var damagedCheckpoint: String { "\(path)/checkpoint.damaged.safetensors" }

    /// The metadata key of config.json's checksum.
    static let configChecksumKey = "crc32c_config"

    /// The CRC-32C of the run's config.json as it is now, or nil when it cannot be read.
    func configChecksum() -> String? {
        FileManager.default.contents(atPath: config).map { CRC32C.hex(CRC32C.checksum([UInt8]($0))) }
    }

    /// Records config.json's checksum in `checkpoint` (when there is a config.json).
    public func recordConfig(in checkpoint: inout Checkpoint) {
        if let crc = configChecksum() { checkpoint.metadata[Self.configChecksumKey] = crc }
    }

    /// `path` read and verified, against config.json's checksum too; a one-line error naming the file otherwise.
    func verifiedCheckpoint(at path: String) throws -> Checkpoint {
        let checkpoint = try Checkpoint.read(path)
        if let recorded = checkpoint.metadata[Self.configChecksumKey], let now = configChecksum(), now != recorded {
            throw DataError("\(config) has changed since \(path) was written (CRC-32C \(now), recorded \(recorded)): the file is damaged or was edited")
        }
        return checkpoint
    }

    /// A one-line notice for a checkpoint written before checkpoints carried checksums, else nil.
    func unverifiedNotice(_ checkpoint: Checkpoint, at path: String) -> String? {
        checkpoint.verified ? nil : "note: \(path) was written before checkpoints carried checksums: loaded without verification"
    }

    /// The run's last checkpoint, verified, with a notice when it could not be (an old file).
    func lastCheckpoint() throws -> (checkpoint: Checkpoint, notice: String?) {
        let last = try verifiedCheckpoint(at: checkpoint)
        return (last, unverifiedNotice(last, at: checkpoint))
    }

    /// The run's last checkpoint, verified, with a notice when it could not be (an old file), for the commands that only
    /// read a run: when it fails, the error names the previous checkpoint if that one verifies, and how to use it.
    public func readCheckpoint() throws -> (checkpoint: Checkpoint, notice: String?) {
        do {
            return try lastCheckpoint()
        } catch let error as DataError {
            guard let previous = try? verifiedCheckpoint(at: previousCheckpoint) else { throw error }
            throw DataError("\(error); the previous checkpoint \(previousCheckpoint) (\(Self.position(previous))) verifies: "
                            + "latentkit train --resume \(path) falls back to it")
        }
    }

    /// The checkpoint to resume from: the last one when it verifies, else the previous one, with a notice that says what
    /// that loses. A damaged last checkpoint is moved to ``damagedCheckpoint`` when `movingDamagedAside` (rank 0), so
    /// that the next write cannot keep it as the previous one.
    public func readCheckpointForResume(movingDamagedAside: Bool) throws -> (checkpoint: Checkpoint, notice: String?) {
        let failure: DataError
        do {
            return try lastCheckpoint()
        } catch let error as DataError {
            failure = error
        }
        guard FileManager.default.fileExists(atPath: previousCheckpoint) else {
            throw DataError(FileManager.default.fileExists(atPath: checkpoint) ? "\(failure); there is no previous checkpoint to fall back to"
                                                                                 : "\(path) has no checkpoint to resume from")
        }
        let previous: Checkpoint
        do {
            previous = try verifiedCheckpoint(at: previousCheckpoint)
        } catch {
            throw DataError("\(failure); the previous checkpoint is no better: \(error)")
        }
        let epoch = previous.metadata["epoch"].flatMap(Int.init) ?? 0
        let logged = (try? readMetrics().compactMap { $0["epoch"] as? Int }.max()) ?? nil
        let lost = max(0, (logged ?? epoch) - epoch)
        var notice = "note: \(failure.description.hasPrefix(checkpoint) ? failure.description : "\(checkpoint): \(failure)"); resuming from \(previousCheckpoint) "
            + "(\(Self.position(previous))), which loses \(lost) epoch\(lost == 1 ? "" : "s") of training"
        if movingDamagedAside && FileManager.default.fileExists(atPath: checkpoint) {
            if rename(checkpoint, damagedCheckpoint) == 0 { notice += "; the damaged file is kept as \(damagedCheckpoint)" }
        }
        return (previous, notice)
    }

    /// Where in training a checkpoint was written: "after 3 epochs" or "after 3 epochs and 40 steps".
    static func position(_ checkpoint: Checkpoint) -> String {
        let epochs = checkpoint.metadata["epoch"] ?? "?", steps = checkpoint.metadata["step_in_epoch"].flatMap(Int.init) ?? 0
        return "after \(epochs) epoch\(epochs == "1" ? "" : "s")" + (steps > 0 ? " and \(steps) steps" : "")
    }
}
