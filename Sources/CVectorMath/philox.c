// Philox4x32-10 uniforms for the CPU backend's random fills: the arithmetic of Philox.blocks16 and Philox.uniform
// (Sources/LatentCore/Philox.swift), compiled per instruction set like vector_math.c. Integer arithmetic and an exact
// conversion, so every level gives the Swift code's bits (VectorMathTests compare them).

#include "levels.h"

#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

INLINE void philox_blocks(uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, float *out,
                          ptrdiff_t first, ptrdiff_t blocks) {
    for (ptrdiff_t b = first; b < blocks; b++) philox_block(low + (uint64_t)b, c2, c3, seed, stream, out + 4 * b);
}

// The baseline: clang's vectorisation of the block loop.
static void philox_baseline(uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, float *out,
                            ptrdiff_t blocks) {
    _Pragma("clang loop vectorize(assume_safety)")
    for (ptrdiff_t b = 0; b < blocks; b++) philox_block(low + (uint64_t)b, c2, c3, seed, stream, out + 4 * b);
}

#if defined(__x86_64__)
// AVX2 and AVX-512: one block per 32-bit lane, 8 or 16 blocks at once. Clang's vectorisation of the loop above keeps
// each 32 × 32 → 64-bit product in a 64-bit lane and converts between lane widths at every round (vpmovqd, vpmovzxdq,
// vextracti64x4: 1.7 G uniforms/s on 2 AVX-512 cores); here the products of the even and the odd lanes (vpmuludq)
// are blended back into 32-bit lanes, and the four words are transposed into the output's order at the end. The same
// integer operations, so the same bits; the blocks that do not fill a vector take the scalar path.
#define PHILOX_MUL(suffix, c, m, hi, lo)                                                                \
    do {                                                                                                \
        V##suffix even = MUL_##suffix(c, m), odd = MUL_##suffix(SRL64_##suffix(c, 32), m);              \
        hi = BLEND_ODD_##suffix(SRL64_##suffix(even, 32), odd);                                         \
        lo = BLEND_ODD_##suffix(even, SLL64_##suffix(odd, 32));                                         \
    } while (0)

// One instruction set's loop: the counters of WIDTH consecutive blocks (the low word's carry into the high one where a
// lane's counter wrapped: HIGH_WORDS), philox_block's ten rounds, the words as uniforms (uniform() above), regrouped
// within each 128-bit lane so that u_j holds the four words of block j of every lane, and the lanes put in order by
// STORE_BLOCKS.
#define PHILOX_VECTOR_LOOP(suffix, attributes, width)                                                                  \
    attributes static void philox_##suffix(uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3,   \
                                           float *out, ptrdiff_t blocks) {                                           \
        const ptrdiff_t whole = blocks / (width) * (width);                                                           \
        for (ptrdiff_t b = 0; b < whole; b += (width)) {                                                             \
            uint64_t base = low + (uint64_t)b;                                                                       \
            V##suffix low32 = SET1_##suffix((uint32_t)base);                                                         \
            V##suffix x0 = ADD_##suffix(low32, LANES_##suffix), x1 = HIGH_WORDS_##suffix(low32, x0, base >> 32);     \
            V##suffix x2 = SET1_##suffix(c2), x3 = SET1_##suffix(c3);                                                \
            uint32_t k0 = seed, k1 = stream;                                                                         \
            for (int round = 0; round < 10; round++) {                                                               \
                V##suffix h0, l0, h1, l1;                                                                            \
                PHILOX_MUL(suffix, x0, SET1_##suffix(0xD2511F53u), h0, l0);                                           \
                PHILOX_MUL(suffix, x2, SET1_##suffix(0xCD9E8D57u), h1, l1);                                           \
                V##suffix n0 = XOR_##suffix(XOR_##suffix(h1, x1), SET1_##suffix(k0));                                \
                V##suffix n2 = XOR_##suffix(XOR_##suffix(h0, x3), SET1_##suffix(k1));                                \
                x1 = l1;                                                                                             \
                x3 = l0;                                                                                             \
                x0 = n0;                                                                                             \
                x2 = n2;                                                                                             \
                k0 += 0x9E3779B9u;                                                                                   \
                k1 += 0xBB67AE85u;                                                                                   \
            }                                                                                                        \
            F##suffix w0 = UNIFORM_##suffix(x0), w1 = UNIFORM_##suffix(x1);                                          \
            F##suffix w2 = UNIFORM_##suffix(x2), w3 = UNIFORM_##suffix(x3);                                          \
            F##suffix t0 = UNPACKLO_##suffix(w0, w1), t1 = UNPACKHI_##suffix(w0, w1);                                \
            F##suffix t2 = UNPACKLO_##suffix(w2, w3), t3 = UNPACKHI_##suffix(w2, w3);                                \
            STORE_BLOCKS_##suffix(out + 4 * b, PAIRS_LO_##suffix(t0, t2), PAIRS_HI_##suffix(t0, t2),                 \
                                  PAIRS_LO_##suffix(t1, t3), PAIRS_HI_##suffix(t1, t3));                             \
        }                                                                                                            \
        philox_blocks(seed, stream, low, c2, c3, out, whole, blocks);                                                \
    }

#define Vavx512 __m512i
#define Favx512 __m512
#define LANES_avx512 _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define SET1_avx512(v) _mm512_set1_epi32((int)(uint32_t)(v))
#define ADD_avx512 _mm512_add_epi32
// high + 1 in the lanes where x0 < low32 (unsigned)
#define HIGH_WORDS_avx512(low32, x0, high) \
    _mm512_mask_add_epi32(SET1_avx512(high), _mm512_cmplt_epu32_mask(x0, low32), SET1_avx512(high), SET1_avx512(1))
#define XOR_avx512 _mm512_xor_si512
#define MUL_avx512 _mm512_mul_epu32
#define SRL64_avx512 _mm512_srli_epi64
#define SLL64_avx512 _mm512_slli_epi64
#define BLEND_ODD_avx512(a, b) _mm512_mask_blend_epi32((__mmask16)0xAAAA, a, b)
#define UNIFORM_avx512(x) \
    _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 9)), _mm512_set1_ps(0x1p-23f)), _mm512_set1_ps(0x1p-24f))
#define UNPACKLO_avx512 _mm512_unpacklo_ps
#define UNPACKHI_avx512 _mm512_unpackhi_ps
#define PAIRS_LO_avx512(a, b) _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
#define PAIRS_HI_avx512(a, b) _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
// u_j holds block j of each of the four 128-bit lanes (blocks j, 4 + j, 8 + j, 12 + j): a 4 × 4 transpose of lanes
#define STORE_BLOCKS_avx512(o, u0, u1, u2, u3)                                                                     \
    do {                                                                                                         \
        __m512 p0 = (u0), p1 = (u1), p2 = (u2), p3 = (u3);                                                       \
        __m512 v0 = _mm512_shuffle_f32x4(p0, p1, 0x88), v1 = _mm512_shuffle_f32x4(p0, p1, 0xDD);                 \
        __m512 v2 = _mm512_shuffle_f32x4(p2, p3, 0x88), v3 = _mm512_shuffle_f32x4(p2, p3, 0xDD);                 \
        _mm512_storeu_ps((o), _mm512_shuffle_f32x4(v0, v2, 0x88));                                               \
        _mm512_storeu_ps((o) + 16, _mm512_shuffle_f32x4(v1, v3, 0x88));                                          \
        _mm512_storeu_ps((o) + 32, _mm512_shuffle_f32x4(v0, v2, 0xDD));                                          \
        _mm512_storeu_ps((o) + 48, _mm512_shuffle_f32x4(v1, v3, 0xDD));                                          \
    } while (0)

#define Vavx2 __m256i
#define Favx2 __m256
#define LANES_avx2 _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0)
#define SET1_avx2(v) _mm256_set1_epi32((int)(uint32_t)(v))
#define ADD_avx2 _mm256_add_epi32
// high + 1 in the lanes where x0 < low32 (unsigned, as a signed compare with the sign bits flipped: -1 where it carried)
#define HIGH_WORDS_avx2(low32, x0, high)                                                                            \
    _mm256_sub_epi32(SET1_avx2(high), _mm256_cmpgt_epi32(_mm256_xor_si256(low32, SET1_avx2(0x80000000u)),         \
                                                         _mm256_xor_si256(x0, SET1_avx2(0x80000000u))))
#define XOR_avx2 _mm256_xor_si256
#define MUL_avx2 _mm256_mul_epu32
#define SRL64_avx2 _mm256_srli_epi64
#define SLL64_avx2 _mm256_slli_epi64
#define BLEND_ODD_avx2(a, b) _mm256_blend_epi32(a, b, 0xAA)
#define UNIFORM_avx2(x) \
    _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(x, 9)), _mm256_set1_ps(0x1p-23f)), _mm256_set1_ps(0x1p-24f))
#define UNPACKLO_avx2 _mm256_unpacklo_ps
#define UNPACKHI_avx2 _mm256_unpackhi_ps
#define PAIRS_LO_avx2(a, b) _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(a), _mm256_castps_pd(b)))
#define PAIRS_HI_avx2(a, b) _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(a), _mm256_castps_pd(b)))
// u_j holds block j of each of the two 128-bit lanes (blocks j and 4 + j)
#define STORE_BLOCKS_avx2(o, u0, u1, u2, u3)                                                                       \
    do {                                                                                                         \
        __m256 p0 = (u0), p1 = (u1), p2 = (u2), p3 = (u3);                                                       \
        _mm256_storeu_ps((o), _mm256_permute2f128_ps(p0, p1, 0x20));                                             \
        _mm256_storeu_ps((o) + 8, _mm256_permute2f128_ps(p2, p3, 0x20));                                         \
        _mm256_storeu_ps((o) + 16, _mm256_permute2f128_ps(p0, p1, 0x31));                                        \
        _mm256_storeu_ps((o) + 24, _mm256_permute2f128_ps(p2, p3, 0x31));                                        \
    } while (0)

PHILOX_VECTOR_LOOP(avx512, __attribute__((target("avx512f"))), 16)
PHILOX_VECTOR_LOOP(avx2, __attribute__((target("avx2"))), 8)
#endif

void lk_philox_uniform_f32(int level, uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, float *out,
                           ptrdiff_t blocks) {
    LK_PICK(level, philox)(seed, stream, low, c2, c3, out, blocks);
}
