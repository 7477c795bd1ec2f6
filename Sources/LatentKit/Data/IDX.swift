// The IDX format of MNIST and Fashion-MNIST (big-endian header, then bytes), gzip-compressed or not.

import CZlib
import Foundation

/// A data file that is missing or not what it claims to be.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum IDX {
    /// The most data bytes an IDX file may declare (16 GiB): a header that claims more is refused before anything is
    /// read or allocated.
    public static let maximumDataBytes = 1 << 34

    /// Reads the IDX file of unsigned bytes at `path` (gzip-compressed or not: zlib's gzread passes plain files through)
    /// with `dimensions` dimensions: its shape and data. The header is checked first (magic number, dimensions whose
    /// product fits ``maximumDataBytes``); the data is then read in chunks up to the size the header declares, so memory
    /// grows only with bytes that are really there, and a file with fewer or more bytes than declared is refused.
    public static func read(_ path: String, dimensions: Int) throws -> (shape: [Int], data: [UInt8]) {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError("\(path): no such file") }
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): cannot open") }
        defer { gzclose(file) }
        /// Up to `count` bytes (fewer only at the end of the data).
        func next(_ count: Int) throws -> [UInt8] {
            var chunk = [UInt8](repeating: 0, count: count)
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            var errnum: Int32 = 0
            gzerror(file, &errnum)
            if n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END) { throw DataError("\(path): corrupt or truncated gzip data") }
            return Array(chunk.prefix(Int(n)))
        }
        let magicBytes = try next(4)
        guard magicBytes.count == 4 else { throw DataError("\(path): \(magicBytes.count) bytes is too short for an IDX file") }
        let magic = bigEndian(magicBytes, 0)
        guard magic == 0x0800 | dimensions else {
            throw DataError(String(format: "%@: wrong magic number 0x%08x (expected 0x%08x: unsigned bytes, %d dimensions)",
                                   path, magic, 0x0800 | dimensions, dimensions))
        }
        let header = try next(4 * dimensions)
        guard header.count == 4 * dimensions else { throw DataError("\(path): truncated header") }
        let shape = (0..<dimensions).map { bigEndian(header, 4 * $0) }
        guard let expected = elementCount(shape, atMost: maximumDataBytes) else {
            throw DataError("\(path): the header's dimensions \(shape) declare more than \(maximumDataBytes) bytes (corrupt or not MNIST-like)")
        }
        var data: [UInt8] = []
        while data.count < expected {
            let chunk = try next(Swift.min(1 << 20, expected - data.count))
            if chunk.isEmpty { break }
            data += chunk
        }
        let extra = try next(1).count
        guard data.count == expected && extra == 0 else {
            throw DataError("\(path): \(extra == 0 ? "\(data.count)" : "more than \(expected)") data bytes, but the header's dimensions "
                            + "\(shape) need \(expected) (truncated or corrupt)")
        }
        return (shape, data)
    }

    /// The product of the non-negative `shape`, or nil when it overflows or exceeds `limit`: a file's declared size,
    /// checked before anything is allocated.
    static func elementCount(_ shape: [Int], atMost limit: Int) -> Int? {
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= limit else { return nil }
            count = product
        }
        return count
    }

    static func bigEndian(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }
}

/// Images and labels of one split: pixels scaled to [0, 1] (byte / 255), row-major `count × (rows·cols)`.
public struct LabelledImages: Sendable {
    public let count: Int
    public let rows: Int
    public let cols: Int
    public let pixels: [Float]
    public let labels: [UInt8]
    /// False for data that came without labels (its `labels` are all 0): the analyses that need classes refuse it.
    public let isLabelled: Bool
    public var pixelsPerImage: Int { rows * cols }

    /// Images already in memory (synthetic data, benchmarks, .npy files).
    public init(count: Int, rows: Int, cols: Int, pixels: [Float], labels: [UInt8], isLabelled: Bool = true) throws {
        try require(pixels.count == count * rows * cols && labels.count == count, "\(pixels.count) pixels and \(labels.count) labels for \(count) images of \(rows)x\(cols)")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
        self.isLabelled = isLabelled
    }

    /// The items at `indices`, in that order.
    public func subset(_ indices: [Int]) throws -> LabelledImages {
        let d = pixelsPerImage
        var values: [Float] = []
        values.reserveCapacity(indices.count * d)
        for i in indices { values += pixels[(i * d)..<((i + 1) * d)] }
        return try LabelledImages(count: indices.count, rows: rows, cols: cols, pixels: values, labels: indices.map { labels[$0] },
                                  isLabelled: isLabelled)
    }

    /// Reads `images` (IDX3) and `labels` (IDX1) and checks that they belong together.
    public init(images: String, labels labelPath: String, limit: Int? = nil) throws {
        let (shape, data) = try IDX.read(images, dimensions: 3)
        let (labelShape, labelData) = try IDX.read(labelPath, dimensions: 1)
        guard labelShape[0] == shape[0] else {
            throw DataError("\(labelPath) has \(labelShape[0]) labels but \(images) has \(shape[0]) images")
        }
        let n = min(shape[0], limit ?? shape[0])
        count = n
        rows = shape[1]
        cols = shape[2]
        pixels = data.prefix(n * shape[1] * shape[2]).map { Float($0) / 255 }
        labels = Array(labelData.prefix(n))
        isLabelled = true
    }
}
