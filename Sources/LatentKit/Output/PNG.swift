// A minimal PNG writer (8-bit grayscale or RGB, zlib-deflated, CRC-32 from zlib) and image grids of decoded samples.

import CZlib
import Foundation

/// An 8-bit RGB colour.
public struct RGB: Equatable, Sendable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }
}

public enum PNG {
    /// Encodes a `width × height` 8-bit grayscale image, row-major.
    public static func grayscale(width: Int, height: Int, pixels: [UInt8]) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 1, samples: pixels)
    }

    /// Encodes a `width × height` 8-bit RGB image, row-major, three bytes per pixel.
    public static func rgb(width: Int, height: Int, pixels: [UInt8]) throws -> [UInt8] {
        try encode(width: width, height: height, channels: 3, samples: pixels)
    }

    static func encode(width: Int, height: Int, channels: Int, samples: [UInt8]) throws -> [UInt8] {
        try require(width > 0 && height > 0 && samples.count == width * height * channels,
                    "PNG: \(samples.count) samples for \(width)x\(height) with \(channels) channel(s)")
        let stride = width * channels
        var raw: [UInt8] = []
        raw.reserveCapacity((stride + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type None
            raw.append(contentsOf: samples[(y * stride)..<((y + 1) * stride)])
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 9)
        guard status == Z_OK else { throw DataError("PNG: zlib compress2 failed with status \(status)") }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        // bit depth 8, colour type 0 (grayscale) or 2 (truecolour), deflate, adaptive filtering, no interlace
        header += [8, channels == 3 ? 2 : 0, 0, 0, 0]
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

    /// A pixel value in [0, 1] (NaN as 0) as a byte.
    static func byte(_ v: Float) -> UInt8 { UInt8((min(max(v.isNaN ? 0 : v, 0), 1) * 255).rounded()) }

    /// Tiles `images` (each `side × side`, values in [0, 1]) into a grid with `columns` columns and a 1-pixel
    /// gap, and encodes it: grayscale with black gaps, or RGB with gaps of `gapColour` (which keeps the tiles of
    /// black-background digits apart, e.g. an input over its reconstruction).
    public static func grid(_ images: [[Float]], side: Int, columns: Int, gapColour: RGB? = nil) throws -> [UInt8] {
        try require(!images.isEmpty && columns >= 1, "no images to write")
        try require(images.allSatisfy { $0.count == side * side }, "every image must have \(side)x\(side) pixels")
        let rows = (images.count + columns - 1) / columns
        let width = columns * (side + 1) + 1, height = rows * (side + 1) + 1
        let channels = gapColour == nil ? 1 : 3
        var samples = [UInt8](repeating: 0, count: width * height * channels)
        if let gap = gapColour {
            for p in 0..<(width * height) { samples[3 * p] = gap.red; samples[3 * p + 1] = gap.green; samples[3 * p + 2] = gap.blue }
        }
        for (n, image) in images.enumerated() {
            let ox = 1 + (n % columns) * (side + 1), oy = 1 + (n / columns) * (side + 1)
            for y in 0..<side {
                for x in 0..<side {
                    let v = byte(image[y * side + x]), p = (oy + y) * width + ox + x
                    for c in 0..<channels { samples[p * channels + c] = v }
                }
            }
        }
        return try encode(width: width, height: height, channels: channels, samples: samples)
    }

    /// ``grid(_:side:columns:gapColour:)`` written to `path`.
    public static func writeGrid(_ images: [[Float]], side: Int, columns: Int, gapColour: RGB? = nil, to path: String) throws {
        try write(grid(images, side: side, columns: columns, gapColour: gapColour), to: path)
    }

    /// Writes `bytes` to `path` atomically, failing with a one-line error.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
