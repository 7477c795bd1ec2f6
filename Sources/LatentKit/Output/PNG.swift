// A minimal PNG writer (8-bit grayscale, zlib-deflated, CRC-32 from zlib) and image grids of decoded samples.

import CZlib
import Foundation

public enum PNG {
    /// Encodes a `width × height` 8-bit grayscale image, row-major.
    public static func grayscale(width: Int, height: Int, pixels: [UInt8]) throws -> [UInt8] {
        try require(width > 0 && height > 0 && pixels.count == width * height, "PNG: \(pixels.count) pixels for \(width)x\(height)")
        var raw: [UInt8] = []
        raw.reserveCapacity((width + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type None
            raw.append(contentsOf: pixels[(y * width)..<((y + 1) * width)])
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 9)
        guard status == Z_OK else { throw DataError("PNG: zlib compress2 failed with status \(status)") }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // bit depth 8, colour type 0 (grayscale), deflate, adaptive filtering, no interlace
        out += chunk("IHDR", header)
        out += chunk("IDAT", Array(compressed.prefix(Int(compressedLength))))
        out += chunk("IEND", [])
        return out
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        let body = typeBytes + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
    }

    /// Tiles `images` (each `side × side`, values in [0, 1]) into a grid with `columns` columns and a 1-pixel
    /// gap, and writes it as a PNG.
    public static func writeGrid(_ images: [[Float]], side: Int, columns: Int, to path: String) throws {
        try require(!images.isEmpty, "no images to write")
        let rows = (images.count + columns - 1) / columns
        let width = columns * (side + 1) + 1, height = rows * (side + 1) + 1
        var pixels = [UInt8](repeating: 0, count: width * height)
        for (n, image) in images.enumerated() {
            let ox = 1 + (n % columns) * (side + 1), oy = 1 + (n / columns) * (side + 1)
            for y in 0..<side {
                for x in 0..<side {
                    let v = image[y * side + x]
                    pixels[(oy + y) * width + ox + x] = UInt8((min(max(v.isNaN ? 0 : v, 0), 1) * 255).rounded())
                }
            }
        }
        let data = Data(try grayscale(width: width, height: height, pixels: pixels))
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
