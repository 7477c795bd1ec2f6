// The element functions of Sources/LatentCPU/VectorMath.swift, operation for operation (Cephes expf and logf after
// Moshier), so that these loops give the Swift lanes' bits. Three rules keep them equal:
// no contraction of a * b + c into a fused multiply-add (the pragma below: AVX-512 and FMA machines would otherwise
// round once where Swift rounds twice), no fast-math, and every select written as the Swift `replacing` it mirrors.
// The tests compare every level with the Swift lanes bit for bit (VectorMathTests).

#include "levels.h"

#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

#define INLINE static inline __attribute__((always_inline))

INLINE float bits_to_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
INLINE int32_t float_to_bits(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

// VectorMath.expParts: Cephes expf's steps for a clamped argument: e^xc = (1 + s) 2^n, returning s (|s| < 1) and 2^n
// as two normal factors *s1 *s2, so that results down to the subnormal range scale correctly.
INLINE float exp_parts(float xc, float *s1, float *s2) {
    float shifted = xc * 1.44269504f + 12582912.0f;
    float n = shifted - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    int32_t ni = (int32_t)((uint32_t)float_to_bits(shifted) - 0x4B400000u);
    int32_t n1 = ni >> 1, n2 = ni - n1;
    *s1 = bits_to_float((int32_t)((uint32_t)(n1 + 127) << 23));
    *s2 = bits_to_float((int32_t)((uint32_t)(n2 + 127) << 23));
    return p * z + r;
}

// VectorMath.exp: +inf above 88.72, 0 below -103.97, NaN for NaN.
INLINE float exp1(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 88.8f ? 88.8f : xc;
    float s1, s2;
    float s = exp_parts(xc, &s1, &s2);
    float result = (s + 1.0f) * s1 * s2;
    result = x > 88.722839f ? __builtin_inff() : result;
    result = x < -103.972084f ? 0.0f : result;
    return x != x ? x : result;
}

// VectorMath.expNegativeSplit: e^-a for a >= 0 as hi + *lo (the rounding of 1 + s), scaled by 2^n.
INLINE float exp_negative_split(float a, float *lo) {
    float s1, s2;
    float s = exp_parts(-(a > 104.0f ? 104.0f : a), &s1, &s2);
    float q = s + 1.0f;
    float ql = s - (q - 1.0f);
    *lo = ql * s1 * s2;
    return q * s1 * s2;
}

// VectorMath.logPolynomial: Cephes logf's P(f), log(1 + f) = f - f^2 / 2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1].
INLINE float log_polynomial(float f) {
    float y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    return y;
}

// VectorMath.softplus: max(x, 0) + log1p(e^-|x|) in float, the roundings of e^-|x| and 1 + t carried; NaN for NaN.
INLINE float softplus1(float x) {
    float tl;
    float t = exp_negative_split(bits_to_float(float_to_bits(x) & 0x7FFFFFFF), &tl);
    int big = t > 0.41421356f;
    float u = 1.0f + t;
    float c = t - (u - 1.0f);
    float f = big ? u * 0.5f - 1.0f : t;
    float z = f * f;
    float y = log_polynomial(f);
    y = y * f * z - 0.5f * z;
    float carried = (big ? c : 0.0f) + tl;
    float correction = carried * ((big ? 0.5f : 1.0f) * (1.0f - f + z));
    float ln2_low = big ? -2.12194440e-4f : 0.0f;
    float ln2_high = big ? 0.693359375f : 0.0f;
    float log1p_t = (ln2_high + f) + (y + (ln2_low + correction));
    float result = (x < 0 ? 0.0f : x) + log1p_t;
    return x != x ? x : result;
}

// VectorMath.logPositiveNormal: Cephes logf for positive normal finite x only.
INLINE float log_positive_normal(float x) {
    int32_t bits = float_to_bits(x);
    float e = (float)((bits >> 23) - 126);
    float m = bits_to_float((bits & 0x007FFFFF) | 0x3F000000);
    int small = m < 0.70710677f;
    e = small ? e - 1.0f : e;
    m = (small ? m + m : m) - 1.0f;
    float z = m * m;
    float y = log_polynomial(m) * m * z;
    y = y + e * -2.12194440e-4f;
    y = y - 0.5f * z;
    return (m + y) + e * 0.693359375f;
}

// VectorMath.gumbel: -log(-log u) for u in (0, 1).
INLINE float gumbel1(float u) { return -log_positive_normal(-log_positive_normal(u)); }

// VectorMath.sigmoid: 1 / (1 + e^-|x|), mirrored for x < 0.
INLINE float sigmoid1(float x) {
    float e = exp1(-bits_to_float(float_to_bits(x) & 0x7FFFFFFF));
    float r = 1.0f / (1.0f + e);
    return x < 0 ? e * r : r;
}

// One loop per function and instruction set. assume_safety: y[i] depends on x[i] only, so in-place calls vectorise too.
#define LOOP(name, f, suffix, attributes)                                                   \
    attributes static void name##_##suffix(const float *x, float *y, ptrdiff_t n) {        \
        _Pragma("clang loop vectorize(assume_safety) interleave(enable)")                   \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = f(x[i]);                                   \
    }

// The softplus in two parts: whole blocks of several vectors at once, then the rest one vector at a time, the last one
// masked. Its element function is a long chain of dependent multiplies and adds (two polynomials), so independent
// vectors in flight keep the units busy; the masked rest keeps a row (the likelihood's 784 pixels) from ending in a
// vector's worth of scalar calls. `latentkit bench --filter softplus` (1M elements, AMD EPYC, 2026-12-05): 2.37 G
// elements/s with clang's own choice at AVX-512, 4.0 with blocks of 4 vectors, 4.55 with 8; at AVX2 1.21, 2.06 with 4,
// 1.71 with 8 (16 registers: 8 spill); baseline 0.51, 0.92 with 4, 0.97 with 8. The sigmoid keeps clang's choice: on
// its rows of a few hundred the blocks measured slower in the training step's profile. Each element's operations are
// unchanged, so the bits are too.
#define LK_BLOCK_avx512 8
#define LK_BLOCK_avx2 4
#define LK_BLOCK_baseline 8
#define LK_WIDTH_avx512 16
#define LK_WIDTH_avx2 8
#define LK_WIDTH_baseline 4
#define LK_PRAGMA(text) _Pragma(#text)
#define LK_BLOCK_LOOP(width, count) \
    LK_PRAGMA(clang loop vectorize(assume_safety) vectorize_width(width) interleave_count(count))
#define LK_MASKED_LOOP(width) \
    LK_PRAGMA(clang loop vectorize(assume_safety) vectorize_width(width) interleave_count(1) vectorize_predicate(enable))
#define BLOCK_LOOP(name, f, suffix, attributes)                                            \
    attributes static void name##_##suffix(const float *x, float *y, ptrdiff_t n) {       \
        const ptrdiff_t block = LK_WIDTH_##suffix * LK_BLOCK_##suffix, whole = n / block * block; \
        LK_BLOCK_LOOP(LK_WIDTH_##suffix, LK_BLOCK_##suffix)                                \
        for (ptrdiff_t i = 0; i < whole; i++) y[i] = f(x[i]);                              \
        LK_MASKED_LOOP(LK_WIDTH_##suffix)                                                  \
        for (ptrdiff_t i = whole; i < n; i++) y[i] = f(x[i]);                              \
    }

#define LOOPS(suffix, attributes)                        \
    LOOP(exp, exp1, suffix, attributes)                  \
    BLOCK_LOOP(softplus, softplus1, suffix, attributes)  \
    LOOP(sigmoid, sigmoid1, suffix, attributes)          \
    LOOP(gumbel, gumbel1, suffix, attributes)

LK_EACH_LEVEL(LOOPS)

// The dense layer's softplus backward over one row's block of columns (CPUBackend.biasActivationBackward):
// d = sigmoid(a) g, and acc += d in double (the bias gradient's column sums, added row by row by the caller). Two
// loops: the sigmoid at the full float width, then the product and the double sums (one loop would run the sigmoid
// at the double width, half as many lanes: measured slower than the Swift loop it replaces).
#define SOFTPLUS_BACKWARD(suffix, attributes)                                                                   \
    attributes static void softplus_backward_##suffix(const float *a, const float *g, float *d, double *acc,   \
                                                      ptrdiff_t n) {                                            \
        _Pragma("clang loop vectorize(assume_safety) interleave(enable)")                                       \
        for (ptrdiff_t i = 0; i < n; i++) d[i] = sigmoid1(a[i]);                                                \
        _Pragma("clang loop vectorize(assume_safety) interleave(enable)")                                       \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                     \
            float v = d[i] * g[i];                                                                              \
            d[i] = v;                                                                                           \
            acc[i] += (double)v;                                                                                \
        }                                                                                                       \
    }

LK_EACH_LEVEL(SOFTPLUS_BACKWARD)

// Row sums in double of float terms. One row's sum is a chain of dependent double additions (its order, column by
// column, is what fixes the bits), which waits on each addition's latency; four rows' chains side by side keep the
// adder busy. TERM(i, j) is the float term of row i's column j; STORE(i, a) stores row i's sum a.
#define ROW_CHAINS(rows, cols, TERM, STORE)                                                                              \
    do {                                                                                                                \
        ptrdiff_t r = 0;                                                                                                \
        for (; r + 4 <= (rows); r += 4) {                                                                               \
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                                      \
            for (ptrdiff_t j = 0; j < (cols); j++) {                                                                    \
                a0 += (double)(TERM(r, j));                                                                             \
                a1 += (double)(TERM(r + 1, j));                                                                         \
                a2 += (double)(TERM(r + 2, j));                                                                         \
                a3 += (double)(TERM(r + 3, j));                                                                         \
            }                                                                                                           \
            STORE(r, a0), STORE(r + 1, a1), STORE(r + 2, a2), STORE(r + 3, a3);                                         \
        }                                                                                                               \
        for (; r < (rows); r++) {                                                                                       \
            double a = 0;                                                                                               \
            for (ptrdiff_t j = 0; j < (cols); j++) a += (double)(TERM(r, j));                                           \
            STORE(r, a);                                                                                                \
        }                                                                                                               \
    } while (0)
// The stores of the functions below, whose output is `out`.
#define STORE_FLOAT(i, a) (out[i] = (float)(a))
#define STORE_DOUBLE(i, a) (out[i] = (a))

// The Bernoulli log-likelihood's row sums.
void lk_bernoulli_row_sums_f32(const float *l, const float *x, const float *sp, float *out, ptrdiff_t rows, ptrdiff_t cols) {
#define BERNOULLI_TERM(i, j) (x[(i) * cols + (j)] * l[(i) * cols + (j)] - sp[(i) * cols + (j)])
    ROW_CHAINS(rows, cols, BERNOULLI_TERM, STORE_FLOAT);
#undef BERNOULLI_TERM
}

void lk_row_sums_f64_f32(const float *x, double *out, ptrdiff_t rows, ptrdiff_t cols) {
#define X_TERM(i, j) x[(i) * cols + (j)]
    ROW_CHAINS(rows, cols, X_TERM, STORE_DOUBLE);
#undef X_TERM
}

void lk_multinomial_row_sums_f32(const float *c, const float *l, const float *z, float *out, ptrdiff_t rows, ptrdiff_t cols) {
#define LL_TERM(i, j) (c[(i) * cols + (j)] * (l[(i) * cols + (j)] - z[i]))
    ROW_CHAINS(rows, cols, LL_TERM, STORE_FLOAT);
#undef LL_TERM
}

int lk_vector_level_compiled(void) { return LK_LEVEL_COMPILED; }
void lk_vector_exp_f32(int level, const float *x, float *y, ptrdiff_t n) { LK_PICK(level, exp)(x, y, n); }
void lk_vector_softplus_f32(int level, const float *x, float *y, ptrdiff_t n) { LK_PICK(level, softplus)(x, y, n); }
void lk_vector_sigmoid_f32(int level, const float *x, float *y, ptrdiff_t n) { LK_PICK(level, sigmoid)(x, y, n); }
void lk_vector_gumbel_f32(int level, const float *x, float *y, ptrdiff_t n) { LK_PICK(level, gumbel)(x, y, n); }
void lk_softplus_backward_f32(int level, const float *a, const float *g, float *d, double *acc, ptrdiff_t n) {
    LK_PICK(level, softplus_backward)(a, g, d, acc, n);
}
