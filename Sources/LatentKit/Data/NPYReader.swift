// Reading NumPy .npy files (the writer is Output/NPY.swift) as `numpy.save` writes them (format versions 1.0, 2.0 and
// 3.0): the magic string, a header length, a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape':
// (N, D), } padded with spaces, then the array's bytes. Untrusted input: the header is parsed by hand (no evaluation),
// the element count is multiplied with overflow checks and must account for the file's bytes exactly, and nothing is
// allocated before that holds.

import Foundation

/// An array read from a .npy file, its values as Float.
public struct NPYArray: Sendable {
    public let shape: [Int]
    public let values: [Float]
    /// The file's element type as NumPy names it (`<f4`, `|u1`, ...).
    public let descr: String
    /// Whether the element type is an integer type (counts, labels) rather than a floating-point one.
    public var isInteger: Bool { !descr.hasSuffix("f4") && !descr.hasSuffix("f8") }
}

extension NPY {
    /// The most data bytes a file may hold (the IDX reader's bound).
    public static let maximumDataBytes = 16 << 30
    /// The longest header accepted (NumPy writes a few hundred bytes; format 2.0 allows 4 GiB).
    static let maximumHeaderBytes = 1 << 20
    /// The element types read: little-endian floats and integers, and bytes.
    static let elementSizes: [String: Int] = ["<f4": 4, "<f8": 8, "|u1": 1, "<i4": 4, "<i8": 8]

    /// Reads `path`; every error is one line naming the file and what is wrong.
    public static func read(_ path: String) throws -> NPYArray {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataError(FileManager.default.fileExists(atPath: path) ? "\(path): cannot open" : "\(path): no such file")
        }
        defer { try? handle.close() }
        func bytes(_ count: Int) throws -> [UInt8] {
            let data = try handle.read(upToCount: count) ?? Data()
            return [UInt8](data)
        }
        let fileSize = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        let magic = try bytes(8)
        guard magic.count == 8, magic.prefix(6) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
            throw DataError("\(path): not a NumPy .npy file (no \\x93NUMPY magic string)")
        }
        let major = magic[6]
        guard (1...3).contains(major) else { throw DataError("\(path): .npy format version \(major).\(magic[7]) is not supported (1.0 to 3.0 are)") }
        let lengthBytes = try bytes(major == 1 ? 2 : 4)
        guard lengthBytes.count == (major == 1 ? 2 : 4) else { throw DataError("\(path): truncated .npy header") }
        let headerLength = lengthBytes.reversed().reduce(0) { $0 << 8 | Int($1) }
        guard headerLength <= maximumHeaderBytes else { throw DataError("\(path): a .npy header of \(headerLength) bytes (corrupt)") }
        let headerBytes = try bytes(headerLength)
        guard headerBytes.count == headerLength else { throw DataError("\(path): truncated .npy header") }
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .ascii) else {
            throw DataError("\(path): the .npy header is not text")
        }
        let (descr, fortranOrder, shape) = try parseHeader(header, path)
        guard let size = elementSizes[descr] else {
            let endian = descr.hasPrefix(">") ? "big-endian " : ""
            throw DataError("\(path): \(endian)element type '\(descr)' is not supported (<f4, <f8, |u1, <i4 and <i8 are: "
                            + "save the array with array.astype('<f4'))")
        }
        guard !fortranOrder || shape.count < 2 else {
            throw DataError("\(path): the array is in Fortran order; save it in C order (numpy.ascontiguousarray(array))")
        }
        guard let count = IDX.elementCount(shape, atMost: maximumDataBytes / size) else {
            throw DataError("\(path): the shape \(shape) declares more than \(maximumDataBytes) bytes (corrupt)")
        }
        let dataBytes = UInt64(count * size), available = fileSize - UInt64(magic.count + lengthBytes.count + headerLength)
        guard dataBytes <= UInt64(maximumDataBytes) else {
            throw DataError("\(path): the shape \(shape) declares more than \(maximumDataBytes) bytes (corrupt)")
        }
        guard dataBytes == available else {
            throw DataError("\(path): the header's shape \(shape) of '\(descr)' needs \(dataBytes) data bytes, the file has \(available) "
                            + "(truncated or corrupt)")
        }
        var values: [Float] = []
        values.reserveCapacity(count)
        let chunkElements = max(1, (1 << 20) / size)
        var remaining = count
        while remaining > 0 {
            let n = min(remaining, chunkElements)
            let chunk = try handle.read(upToCount: n * size) ?? Data()
            guard chunk.count == n * size else { throw DataError("\(path): the file ended early (it changed while being read?)") }
            chunk.withUnsafeBytes { raw in
                switch descr {
                case "<f4": for i in 0..<n { values.append(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
                case "<f8": for i in 0..<n { values.append(Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))) }
                case "|u1": for i in 0..<n { values.append(Float(raw[i])) }
                case "<i4": for i in 0..<n { values.append(Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))) }
                default: for i in 0..<n { values.append(Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))) }
                }
            }
            remaining -= n
        }
        return NPYArray(shape: shape, values: values, descr: descr)
    }

    /// The header dict's three keys; anything else in it is an error.
    static func parseHeader(_ header: String, _ path: String) throws -> (descr: String, fortranOrder: Bool, shape: [Int]) {
        let trimmed = header.trimmingCharacters(in: .whitespacesAndNewlines)
        func bad(_ what: String) -> DataError {
            DataError("\(path): malformed .npy header (\(what)): \(trimmed.prefix(120).replacingOccurrences(of: "\n", with: " "))")
        }
        var text = Substring(trimmed)
        guard text.first == "{", text.last == "}" else { throw bad("not a dict") }
        text = text.dropFirst().dropLast()
        var descr: String?, fortranOrder: Bool?, shape: [Int]?
        while true {
            text = text.drop { $0 == " " || $0 == "," }
            if text.isEmpty { break }
            guard let quote = text.first, quote == "'" || quote == "\"", let keyEnd = text.dropFirst().firstIndex(of: quote) else { throw bad("a key") }
            let key = String(text[text.index(after: text.startIndex)..<keyEnd])
            text = text[text.index(after: keyEnd)...].drop { $0 == " " }
            guard text.first == ":" else { throw bad("no ':' after '\(key)'") }
            text = text.dropFirst().drop { $0 == " " }
            switch key {
            case "descr":
                guard let q = text.first, q == "'" || q == "\"", let end = text.dropFirst().firstIndex(of: q) else { throw bad("descr") }
                descr = String(text[text.index(after: text.startIndex)..<end])
                text = text[text.index(after: end)...]
            case "fortran_order":
                if text.hasPrefix("True") { fortranOrder = true } else if text.hasPrefix("False") { fortranOrder = false } else { throw bad("fortran_order") }
                text = text.dropFirst(fortranOrder! ? 4 : 5)
            case "shape":
                guard text.first == "(", let end = text.firstIndex(of: ")") else { throw bad("shape") }
                let items = text[text.index(after: text.startIndex)..<end].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                let dims = items.map { Int($0.hasSuffix("L") ? String($0.dropLast()) : $0) }
                guard dims.allSatisfy({ ($0 ?? -1) >= 0 }) else { throw bad("shape \(items)") }
                shape = dims.map { $0! }
                text = text[text.index(after: end)...]
            default:
                throw bad("unknown key '\(key)'")
            }
        }
        guard let descr, let fortranOrder, let shape else { throw bad("needs descr, fortran_order and shape") }
        return (descr, fortranOrder, shape)
    }
}
