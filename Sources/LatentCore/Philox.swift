// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
// Counter-based: the same key and counter give the same bits on every backend, with no state to carry.
// The OpenCL twin is `lk_philox4x32_10` in Kernels/Preamble.swift.

/// The Philox key: `(seed, stream)`. Different streams of one seed are independent sequences.
public struct PhiloxKey: Sendable, Equatable {
    public var seed: UInt32
    public var stream: UInt32
    public init(seed: UInt32, stream: UInt32 = 0) {
        self.seed = seed
        self.stream = stream
    }
}

/// A 128-bit Philox counter `(c0, c1, c2, c3)`. Block `i` of a fill uses this counter plus `i`, added to the low
/// 64 bits `(c0, c1)` with carry.
public struct PhiloxCounter: Sendable, Equatable {
    public var words: SIMD4<UInt32>

    public init(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32) {
        words = SIMD4(c0, c1, c2, c3)
    }

    /// Counter at block `offset` (low 64 bits), high words zero.
    public init(offset: UInt64 = 0) {
        self.init(UInt32(truncatingIfNeeded: offset), UInt32(truncatingIfNeeded: offset >> 32), 0, 0)
    }

    /// This counter advanced by `blocks`.
    public func advanced(by blocks: UInt64) -> PhiloxCounter {
        let low = (UInt64(words[1]) << 32 | UInt64(words[0])) &+ blocks
        return PhiloxCounter(UInt32(truncatingIfNeeded: low), UInt32(truncatingIfNeeded: low >> 32), words[2], words[3])
    }

    /// Number of Philox blocks a fill of `count` elements consumes (4 words per block).
    public static func blocks(for count: Int) -> UInt64 { UInt64((count + 3) / 4) }
}

public enum Philox {
    @usableFromInline static let m0: UInt32 = 0xD251_1F53
    @usableFromInline static let m1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let w0: UInt32 = 0x9E37_79B9
    @usableFromInline static let w1: UInt32 = 0xBB67_AE85

    /// One Philox4x32-10 block.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: PhiloxKey) -> SIMD4<UInt32> {
        var c = counter
        var k0 = key.seed, k1 = key.stream
        for round in 0..<10 {
            let p0 = UInt64(m0) &* UInt64(c[0])
            let p1 = UInt64(m1) &* UInt64(c[2])
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0)
            if round < 9 {
                k0 &+= w0
                k1 &+= w1
            }
        }
        return c
    }

    /// Sixteen consecutive blocks at once, starting at `counter + first`: lane `l` of word `w` is word `w` of block
    /// `first + l`. The same arithmetic as ``block(counter:key:)``, sixteen lanes wide.
    @inlinable
    public static func blocks16(counter: PhiloxCounter, first: UInt64, key: PhiloxKey)
        -> (SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>)
    {
        typealias U = SIMD16<UInt32>
        typealias W = SIMD16<UInt64>
        let low = (UInt64(counter.words[1]) << 32 | UInt64(counter.words[0])) &+ first
        let lanes = W(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &+ low
        var c0 = U(truncatingIfNeeded: lanes), c1 = U(truncatingIfNeeded: lanes &>> 32)
        var c2 = U(repeating: counter.words[2]), c3 = U(repeating: counter.words[3])
        var k0 = key.seed, k1 = key.stream
        for round in 0..<10 {
            let p0 = W(truncatingIfNeeded: c0) &* UInt64(m0)
            let p1 = W(truncatingIfNeeded: c2) &* UInt64(m1)
            let hi0 = U(truncatingIfNeeded: p0 &>> 32), lo0 = U(truncatingIfNeeded: p0)
            let hi1 = U(truncatingIfNeeded: p1 &>> 32), lo1 = U(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            if round < 9 {
                k0 &+= w0
                k1 &+= w1
            }
        }
        return (c0, c1, c2, c3)
    }

    /// Uniform on the open interval (0, 1) from the top 23 bits of a word: `(k + 1/2) 2^-23`. The result is exact
    /// in float32 (24 significant bits), so both backends produce the same value from the same word.
    @inlinable
    public static func uniform(_ word: UInt32) -> Float {
        Float(word >> 9) * 0x1p-23 + 0x1p-24
    }
}
