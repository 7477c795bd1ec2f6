// Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header, little-endian float32
// data), so NumPy and PyTorch users can load them with `safetensors.numpy.load_file`. Written to a temporary file,
// flushed and renamed, so an interrupted write never destroys the previous checkpoint; the one before it can be kept
// beside it. Every file records the CRC-32C of each tensor and of its own header in its metadata, and reading verifies
// them, so a torn or bit-rotted checkpoint (a shared file system's, say) is refused instead of trained on.

import Foundation

/// A checkpoint that could not be written whole (a full disk, an I/O error): the partial file is removed and the
/// previous checkpoint is left as it was, which the message says, so the caller need not add how to resume.
public struct CheckpointWriteError: Error, CustomStringConvertible {
    /// What failed, with its cause: "cannot write checkpoint PATH: No space left on device".
    public let failure: String
    public var description: String { "\(failure); the previous checkpoint is kept" }
}

public struct Checkpoint {
    public struct Entry: Equatable {
        public var shape: [Int]
        public var values: [Float]
    }

    /// Tensors by name, written in this order.
    public var names: [String] = []
    public var tensors: [String: Entry] = [:]
    /// String metadata (safetensors allows only strings there); without the checksums, which the file format keeps.
    public var metadata: [String: String] = [:]
    /// Whether the file this was read from carried checksums and passed them; false for files written before checksums
    /// (they still load) and for checkpoints built in memory.
    public private(set) var verified = false

    /// The metadata keys of the checksums: the header's (computed with its own eight digits as "00000000") and every
    /// tensor's, comma-separated in the order of their data.
    static let headerChecksumKey = "crc32c_header", tensorChecksumsKey = "crc32c_tensors"

    public init() {}

    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        if tensors[name] == nil { names.append(name) }
        tensors[name] = Entry(shape: shape, values: values)
    }

    /// Downloads `tensor` and adds it under `name`.
    public mutating func add(_ name: String, _ tensor: Tensor, from backend: any Backend) throws {
        add(name, shape: tensor.shape, values: try backend.download(tensor.buffer, offset: 0, count: tensor.count))
    }

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [])
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }

    public func encoded() -> [UInt8] {
        var offset = 0
        var fields: [String] = []
        var data: [UInt8] = []
        data.reserveCapacity(names.reduce(0) { $0 + tensors[$1]!.values.count * 4 })
        var checksums: [String] = []
        for name in names {
            let e = tensors[name]!
            let bytes = e.values.count * 4
            fields.append("\(Self.jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],"
                          + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
            let start = data.count
            // little-endian float32s: on a little-endian host the values' own bytes, appended at once (4 bytes at a time
            // cost a few percent of a topic-model run, which writes a checkpoint every epoch)
            #if _endian(little)
            e.values.withUnsafeBytes { data.append(contentsOf: $0) }
            #else
            for v in e.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            #endif
            checksums.append(CRC32C.hex(data[start...].withUnsafeBytes { CRC32C.checksum($0) }))
        }
        var metadata = self.metadata
        metadata[Self.tensorChecksumsKey] = checksums.joined(separator: ",")
        metadata[Self.headerChecksumKey] = "00000000"
        let pairs = metadata.keys.sorted().map { "\(Self.jsonString($0)):\(Self.jsonString(metadata[$0]!))" }
        fields.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad to 8-byte alignment, as the format suggests
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        let digits = Self.headerChecksumDigits(in: out)!
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        out.replaceSubrange(digits, with: Array(CRC32C.hex(crc).utf8))
        return out + data
    }

    /// Where the header's own checksum digits are in a file's first bytes (length and header): the eight bytes after
    /// `"crc32c_header":"`, when that occurs exactly once.
    static func headerChecksumDigits(in bytes: [UInt8]) -> Range<Int>? {
        let key = Array("\"\(headerChecksumKey)\":\"".utf8)
        var found: Range<Int>?
        var i = 8
        while i + key.count + 8 <= bytes.count {
            if bytes[i] == key[0] && bytes[i..<(i + key.count)].elementsEqual(key) {
                guard found == nil else { return nil }
                found = (i + key.count)..<(i + key.count + 8)
            }
            i += 1
        }
        return found
    }

    /// Where the checkpoint before `path` is kept: `checkpoint.safetensors` → `checkpoint.previous.safetensors`.
    public static func previousPath(of path: String) -> String {
        path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) + ".previous.safetensors" : path + ".previous"
    }

    /// Writes atomically, so that a write interrupted at any moment (a kill, a full disk, a power cut) leaves the previous
    /// checkpoint whole: a temporary file beside `path`, flushed to disk (`fsync`), renamed over `path`, and the directory
    /// flushed so that the rename itself is durable. A failed write removes its temporary file and is a one-line error.
    /// With `keepingPrevious`, the checkpoint that was at `path` stays at ``previousPath(of:)`` (a hard link made before
    /// the rename, so that `path` itself never goes missing): at every instant both files, or the new one, are whole.
    public func write(to path: String, keepingPrevious: Bool = false) throws {
        for step in writeSteps(to: path, keepingPrevious: keepingPrevious) { try step.run() }
    }

    /// ``write(to:keepingPrevious:)`` as the steps a kill can fall between, in order (a kill inside the first leaves
    /// only a partial temporary file, which nothing reads). Public so that a test can stop after any of them.
    public func writeSteps(to path: String, keepingPrevious: Bool) -> [(name: String, run: () throws -> Void)] {
        let tmp = path + ".tmp", previous = Self.previousPath(of: path), previousTmp = previous + ".tmp"
        var steps: [(name: String, run: () throws -> Void)] = [("write and flush \(tmp)", { try writeFlushed(encoded(), to: tmp) })]
        if keepingPrevious {
            steps.append(("link \(path) as \(previousTmp)", {
                unlink(previousTmp)
                guard FileManager.default.fileExists(atPath: path), link(path, previousTmp) != 0 else { return }
                // a file system without hard links: a copy, flushed like the checkpoint itself
                guard let bytes = FileManager.default.contents(atPath: path) else { return }
                try writeFlushed([UInt8](bytes), to: previousTmp)
            }))
            steps.append(("rename \(previousTmp) to \(previous)", {
                guard FileManager.default.fileExists(atPath: previousTmp) else { return }
                guard rename(previousTmp, previous) == 0 else {
                    throw DataError("cannot keep the previous checkpoint at \(previous): \(String(cString: strerror(errno)))")
                }
            }))
        }
        steps.append(("rename \(tmp) to \(path)", {
            guard rename(tmp, path) == 0 else {
                throw DataError("cannot move checkpoint into place at \(path): \(String(cString: strerror(errno)))")
            }
        }))
        steps.append(("flush the directory", {
            let directory = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY)
            if directory >= 0 {
                _ = fsync(directory)
                close(directory)
            }
        }))
        return steps
    }

    /// Writes `bytes` to `path` and flushes them to disk; on failure removes the file and says why in one line.
    private func writeFlushed(_ bytes: [UInt8], to path: String) throws {
        // POSIX calls rather than FileHandle, so that a failure names its cause (a full disk: "No space left on device").
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw CheckpointWriteError(failure: "cannot write checkpoint \(path): \(String(cString: strerror(errno)))")
        }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = posixWrite(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = n < 0 ? String(cString: strerror(errno)) : "nothing written"
                    return
                }
                done += n
            }
            if fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(path)
            throw CheckpointWriteError(failure: "cannot write checkpoint \(path) (\(bytes.count) bytes): \(failure)")
        }
    }

    /// Reads and verifies the checkpoint at `path`: every size is checked before anything is allocated, and a file with
    /// checksums must match them (a one-line error naming the file, and the tensor where one is to blame).
    public static func read(_ path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read checkpoint") }
        return try decode([UInt8](data), path: path)
    }

    /// ``read(_:)`` of a file's bytes; `path` names them in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        guard bytes.count >= 8 else { throw DataError("\(path): not a safetensors file (too short)") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else { throw DataError("\(path): header length \(headerLength) exceeds the file") }
        let body = 8 + Int(headerLength)
        // the header's own checksum first, so that a damaged shape or offset is named as damage, not as a bad shape
        var head = Array(bytes[0..<body])
        let digits = headerChecksumDigits(in: head)
        if let digits {
            guard let recorded = CRC32C.parse(String(decoding: head[digits], as: UTF8.self)) else {
                throw DataError("\(path): the header's checksum field is malformed ('\(String(decoding: head[digits], as: UTF8.self))'): the file is damaged")
            }
            head.replaceSubrange(digits, with: Array("00000000".utf8))
            let computed = CRC32C.checksum(head)
            guard computed == recorded else {
                throw DataError("\(path): the header fails its CRC-32C check (recorded \(CRC32C.hex(recorded)), computed \(CRC32C.hex(computed))): the file is damaged")
            }
        }
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<body])) as? [String: Any] else {
            throw DataError("\(path): header is not a JSON object")
        }
        var checkpoint = Checkpoint()
        if let metadata = header["__metadata__"] {
            guard let strings = metadata as? [String: String] else { throw DataError("\(path): the header's __metadata__ is not a map of strings") }
            checkpoint.metadata = strings
        }
        let tensorChecksums = checkpoint.metadata.removeValue(forKey: tensorChecksumsKey)
        let headerChecksum = checkpoint.metadata.removeValue(forKey: headerChecksumKey)
        guard (tensorChecksums == nil) == (digits == nil), (headerChecksum == nil) == (digits == nil) else {
            throw DataError("\(path): the checksum record is incomplete (the header's or the tensors' is missing): the file is damaged")
        }
        var entries: [(String, Int, [Int], Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw DataError("\(path): malformed entry for tensor '\(name)'") }
            guard dtype == "F32" else { throw DataError("\(path): tensor '\(name)' is \(dtype); LatentKit checkpoints hold F32") }
            // Every size is checked before anything is allocated: dimensions non-negative, their product (in bytes) within
            // the file, offsets ordered and inside it.
            var count = 1
            for d in shape {
                guard d >= 0 else { throw DataError("\(path): tensor '\(name)' has shape \(shape), with a negative dimension") }
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= bytes.count / 4 else {
                    throw DataError("\(path): tensor '\(name)' has shape \(shape), which does not fit a file of \(bytes.count) bytes")
                }
                count = product
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= bytes.count - body, offsets[1] - offsets[0] == count * 4 else {
                throw DataError("\(path): tensor '\(name)' has offsets \(offsets) that do not fit its shape \(shape) or the file")
            }
            entries.append((name, offsets[0], shape, count))
        }
        entries.sort { $0.1 < $1.1 }
        if let tensorChecksums {
            let recorded = tensorChecksums.isEmpty ? [] : tensorChecksums.split(separator: ",", omittingEmptySubsequences: false).map { CRC32C.parse($0) }
            guard recorded.count == entries.count, recorded.allSatisfy({ $0 != nil }) else {
                throw DataError("\(path): the tensors' checksum field is malformed (\(recorded.count) values for \(entries.count) tensors): the file is damaged")
            }
            for ((name, start, _, count), crc) in zip(entries, recorded) {
                let computed = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(body + start)..<(body + start + count * 4)])) }
                guard computed == crc! else {
                    throw DataError("\(path): tensor '\(name)' fails its CRC-32C check (recorded \(CRC32C.hex(crc!)), computed \(CRC32C.hex(computed))): the file is damaged")
                }
            }
            checkpoint.verified = true
        }
        for (name, start, shape, count) in entries {
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(body + start)..<(body + start + count * 4)]))
                }
            }
            checkpoint.add(name, shape: shape, values: values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        }
        return checkpoint
    }

    /// Downloads `tensor` and adds it under `name`, or, when `name` contains a ``JoinedColumns/name``, as the parts it joins.
    public mutating func add(_ name: String, _ tensor: Tensor, from backend: any Backend, joined: [JoinedColumns]) throws {
        guard let j = joined.first(where: { name.contains($0.name) }) else { return try add(name, tensor, from: backend) }
        let values = try backend.download(tensor.buffer, offset: 0, count: tensor.count)
        for (part, columns) in j.parts {
            add(name.replacingOccurrences(of: j.name, with: part), shape: [tensor.rows, columns.count],
                values: (0..<tensor.rows).flatMap { r in values[(r * tensor.cols + columns.lowerBound)..<(r * tensor.cols + columns.upperBound)] })
        }
    }

    /// Uploads the tensor called `name` into `tensor`, or, when `name` contains a ``JoinedColumns/name``, the parts it joins.
    public func load(_ name: String, into tensor: Tensor, on backend: any Backend, joined: [JoinedColumns]) throws {
        guard let j = joined.first(where: { name.contains($0.name) }) else { return try load(name, into: tensor, on: backend) }
        var values = [Float](repeating: 0, count: tensor.count)
        for (part, columns) in j.parts {
            let e = try entry(name.replacingOccurrences(of: j.name, with: part), shape: [tensor.rows, columns.count])
            for r in 0..<tensor.rows {
                for (c, column) in columns.enumerated() { values[r * tensor.cols + column] = e.values[r * columns.count + c] }
            }
        }
        try backend.upload(values, to: tensor.buffer, offset: 0)
    }

    /// Uploads the tensor called `name` into `tensor`, checking its shape.
    public func load(_ name: String, into tensor: Tensor, on backend: any Backend) throws {
        try backend.upload(try entry(name, shape: tensor.shape).values, to: tensor.buffer, offset: 0)
    }

    /// The number stored under metadata `key` (nil when absent). Metadata comes from outside like the tensors: a value that
    /// is not finite, or not `valid` (`what` says what it must be), is damage, refused rather than evaluated.
    public func metadataNumber<T: BinaryFloatingPoint & LosslessStringConvertible>(_ key: String, _ what: String = "a finite number",
                                                                               valid: (T) -> Bool = { _ in true }) throws -> T? {
        guard let text = metadata[key] else { return nil }
        guard let v = T(text), v.isFinite, valid(v) else { throw DataError("checkpoint metadata '\(key)' is \(text), not \(what): the checkpoint is damaged") }
        return v
    }

    /// The tensor called `name`, which must have `shape`.
    func entry(_ name: String, shape: [Int]) throws -> Entry {
        guard let e = tensors[name] else { throw DataError("checkpoint has no tensor '\(name)' (does it belong to this model?)") }
        guard e.shape == shape else { throw DataError("checkpoint tensor '\(name)' has shape \(e.shape), the model expects \(shape)") }
        // training stops at a non-finite loss before it writes one, so a NaN or infinity here is damage (or an older
        // checkpoint without checksums, edited): refused, rather than evaluated into NaN figures
        if let i = e.values.firstIndex(where: { !$0.isFinite }) {
            throw DataError("checkpoint tensor '\(name)' holds \(e.values[i]) at element \(i): the checkpoint is damaged")
        }
        return e
    }
}

/// A model parameter that joins several layers' parameters side by side by columns (so that their GEMMs are one), and
/// that checkpoints store as the separate tensors it stands for: a name containing `name` is stored as the names with
/// each part's name in its place, holding that part's `columns`.
public struct JoinedColumns: Sendable {
    public let name: String
    public let parts: [(name: String, columns: Range<Int>)]

    public init(name: String, parts: [(name: String, columns: Range<Int>)]) {
        self.name = name
        self.parts = parts
    }
}

/// POSIX `write`, out of reach of ``Checkpoint/write(to:keepingPrevious:)``'s name.
private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
