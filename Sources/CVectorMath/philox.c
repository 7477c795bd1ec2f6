// Philox4x32-10 uniforms for the CPU backend's random fills: the arithmetic of Philox.blocks16 and Philox.uniform
// (Sources/LatentCore/Philox.swift), compiled per instruction set like vector_math.c. Integer arithmetic and an exact
// conversion, so every level gives the Swift code's bits (VectorMathTests compare them).

#include "levels.h"

#include <stdint.h>

#define INLINE static inline __attribute__((always_inline))

// Uniform on (0, 1) from the top 23 bits: (k + 1/2) 2^-23, exact in float.
INLINE float uniform(uint32_t word) { return (float)(word >> 9) * 0x1p-23f + 0x1p-24f; }

INLINE void philox_block(uint64_t counter, uint32_t c2, uint32_t c3, uint32_t seed, uint32_t stream, float *out) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t k0 = seed, k1 = stream;
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;  // after the last round too: unused then
        k1 += 0xBB67AE85u;
    }
    out[0] = uniform(c0);
    out[1] = uniform(c1);
    out[2] = uniform(c2);
    out[3] = uniform(c3);
}

#define LOOP(suffix, attributes)                                                                                  \
    attributes static void philox_##suffix(uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, \
                                           float *out, ptrdiff_t blocks) {                                        \
        _Pragma("clang loop vectorize(assume_safety)")                                                            \
        for (ptrdiff_t b = 0; b < blocks; b++) philox_block(low + (uint64_t)b, c2, c3, seed, stream, out + 4 * b); \
    }

LK_EACH_LEVEL(LOOP)

void lk_philox_uniform_f32(int level, uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, float *out,
                           ptrdiff_t blocks) {
    LK_PICK(level, philox)(seed, stream, low, c2, c3, out, blocks);
}
