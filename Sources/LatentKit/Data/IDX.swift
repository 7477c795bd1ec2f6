// The IDX format of MNIST and Fashion-MNIST (big-endian header, then bytes), gzip-compressed or not.

import CZlib
import Foundation

/// A data file that is missing or not what it claims to be.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum IDX {
    /// The whole content of `path`, decompressed if it is gzip (zlib's gzread passes plain files through).
    public static func readBytes(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError("\(path): no such file") }
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): cannot open") }
        defer { gzclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw DataError("\(path): corrupt gzip data") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        // gzread stops at a truncated stream without an error; gzerror tells.
        var errnum: Int32 = 0
        gzerror(file, &errnum)
        if errnum != Z_OK && errnum != Z_STREAM_END { throw DataError("\(path): corrupt or truncated gzip data") }
        return out
    }

    static func bigEndian(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }

    /// Parses an IDX file of unsigned bytes with `dimensions` dimensions and returns the dimensions and the data.
    public static func parse(_ bytes: [UInt8], dimensions: Int, path: String) throws -> (shape: [Int], data: ArraySlice<UInt8>) {
        let header = 4 + 4 * dimensions
        guard bytes.count >= 4 else { throw DataError("\(path): \(bytes.count) bytes is too short for an IDX file") }
        let magic = bigEndian(bytes, 0)
        guard magic == 0x0800 | dimensions else {
            throw DataError(String(format: "%@: wrong magic number 0x%08x (expected 0x%08x: unsigned bytes, %d dimensions)",
                                   path, magic, 0x0800 | dimensions, dimensions))
        }
        guard bytes.count >= header else { throw DataError("\(path): truncated header") }
        let shape = (0..<dimensions).map { bigEndian(bytes, 4 + 4 * $0) }
        let expected = header + shape.reduce(1, *)
        guard bytes.count == expected else {
            throw DataError("\(path): \(bytes.count) bytes, but the header's dimensions \(shape) need \(expected) (truncated or corrupt)")
        }
        return (shape, bytes[header...])
    }
}

/// Images and labels of one split: pixels scaled to [0, 1] (byte / 255), row-major `count × (rows·cols)`.
public struct LabelledImages: Sendable {
    public let count: Int
    public let rows: Int
    public let cols: Int
    public let pixels: [Float]
    public let labels: [UInt8]
    public var pixelsPerImage: Int { rows * cols }

    /// Images already in memory (synthetic data, benchmarks).
    public init(count: Int, rows: Int, cols: Int, pixels: [Float], labels: [UInt8]) throws {
        try require(pixels.count == count * rows * cols && labels.count == count, "\(pixels.count) pixels and \(labels.count) labels for \(count) images of \(rows)x\(cols)")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
    }

    /// Reads `images` (IDX3) and `labels` (IDX1) and checks that they belong together.
    public init(images: String, labels labelPath: String, limit: Int? = nil) throws {
        let (shape, data) = try IDX.parse(try IDX.readBytes(images), dimensions: 3, path: images)
        let (labelShape, labelData) = try IDX.parse(try IDX.readBytes(labelPath), dimensions: 1, path: labelPath)
        guard labelShape[0] == shape[0] else {
            throw DataError("\(labelPath) has \(labelShape[0]) labels but \(images) has \(shape[0]) images")
        }
        let n = min(shape[0], limit ?? shape[0])
        count = n
        rows = shape[1]
        cols = shape[2]
        pixels = data.prefix(n * shape[1] * shape[2]).map { Float($0) / 255 }
        labels = Array(labelData.prefix(n))
    }
}
