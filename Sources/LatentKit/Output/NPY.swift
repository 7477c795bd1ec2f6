// NumPy's .npy format, version 1.0 (numpy.lib.format): a magic string, a little-endian header length, a Python
// dict literal padded with spaces to a multiple of 64 bytes, then the raw little-endian array in C order.

import Foundation

public enum NPY {
    /// `values` as a `<f4` array of `shape`.
    public static func encode(_ values: [Float], shape: [Int]) throws -> Data {
        try encode(values.map { $0.bitPattern }, descr: "<f4", shape: shape)
    }

    /// `values` as a `<i4` array of `shape`.
    public static func encode(_ values: [Int32], shape: [Int]) throws -> Data {
        try encode(values.map { UInt32(bitPattern: $0) }, descr: "<i4", shape: shape)
    }

    static func encode(_ words: [UInt32], descr: String, shape: [Int]) throws -> Data {
        try require(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == words.count,
                    "\(words.count) values do not fill an array of shape \(shape)")
        // a 1-tuple needs its trailing comma in Python
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = 10 + header.utf8.count + 1  // magic 6 + version 2 + length 2, the header, its newline
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.reserveCapacity(data.count + 4 * words.count)
        for w in words { data.append(contentsOf: [UInt8(w & 0xFF), UInt8((w >> 8) & 0xFF), UInt8((w >> 16) & 0xFF), UInt8(w >> 24)]) }
        return data
    }
}
