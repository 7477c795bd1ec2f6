// Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header, little-endian float32
// data), so NumPy and PyTorch users can load them with `safetensors.numpy.load_file`. Written to a temporary file,
// flushed and renamed, so an interrupted write never destroys the previous checkpoint.

import Foundation

public struct Checkpoint {
    public struct Entry: Equatable {
        public var shape: [Int]
        public var values: [Float]
    }

    /// Tensors by name, written in this order.
    public var names: [String] = []
    public var tensors: [String: Entry] = [:]
    /// String metadata (safetensors allows only strings there).
    public var metadata: [String: String] = [:]

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
        for name in names {
            let e = tensors[name]!
            let bytes = e.values.count * 4
            fields.append("\(Self.jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],"
                          + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.jsonString($0)):\(Self.jsonString(metadata[$0]!))" }
            fields.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad to 8-byte alignment, as the format suggests
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        out.reserveCapacity(out.count + offset)
        for name in names {
            for v in tensors[name]!.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Writes atomically, so that a write interrupted at any moment (a kill, a full disk, a power cut) leaves the previous
    /// checkpoint whole: a temporary file beside `path`, flushed to disk (`fsync`), renamed over `path`, and the directory
    /// flushed so that the rename itself is durable. A failed write removes its temporary file and is a one-line error.
    public func write(to path: String) throws {
        let tmp = path + ".tmp"
        let bytes = encoded()
        // POSIX calls rather than FileHandle, so that a failure names its cause (a full disk: "No space left on device").
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DataError("cannot write checkpoint \(tmp): \(String(cString: strerror(errno)))") }
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
            unlink(tmp)
            throw DataError("cannot write checkpoint \(tmp) (\(bytes.count) bytes): \(failure); the previous checkpoint is kept")
        }
        guard rename(tmp, path) == 0 else {
            throw DataError("cannot move checkpoint into place at \(path): \(String(cString: strerror(errno)))")
        }
        let directory = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    public static func read(_ path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read checkpoint") }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw DataError("\(path): not a safetensors file (too short)") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else { throw DataError("\(path): header length \(headerLength) exceeds the file") }
        let body = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<body])) as? [String: Any] else {
            throw DataError("\(path): header is not a JSON object")
        }
        var checkpoint = Checkpoint()
        checkpoint.metadata = header["__metadata__"] as? [String: String] ?? [:]
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
        for (name, start, shape, count) in entries.sorted(by: { $0.1 < $1.1 }) {
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

    /// The tensor called `name`, which must have `shape`.
    func entry(_ name: String, shape: [Int]) throws -> Entry {
        guard let e = tensors[name] else { throw DataError("checkpoint has no tensor '\(name)' (does it belong to this model?)") }
        guard e.shape == shape else { throw DataError("checkpoint tensor '\(name)' has shape \(e.shape), the model expects \(shape)") }
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

/// POSIX `write`, out of reach of ``Checkpoint/write(to:)``'s name.
private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
