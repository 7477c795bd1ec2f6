// The CPU backend's batch-normalisation row loops (Sources/LatentCPU/CPUBackend+BatchNorm.swift), compiled per
// instruction set like vector_math.c. Each walks a block of m columns of a row-major matrix (row stride `stride`) row by
// row in memory order, the m columns side by side in the vector lanes, so every column's sum keeps the row order of the
// column-by-column loop (the OpenCL kernels' order); no contraction, IEEE division and square root: the Swift loops'
// bits, which VectorMathTests compare. The Swift loops they replace ran one scalar at a time.

#include "levels.h"

#pragma clang fp contract(off)

#define LOOPS(suffix, attributes)                                                                                      \
    attributes static void bn_statistics_##suffix(const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m,      \
                                                  float *mean, float *variance) {                                     \
        const float n = (float)rows;                                                                                  \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                                        \
            const float *xr = x + r * stride;                                                                         \
            _Pragma("clang loop vectorize(assume_safety)")                                                            \
            for (ptrdiff_t k = 0; k < m; k++) mean[k] += xr[k];                                                       \
        }                                                                                                             \
        for (ptrdiff_t k = 0; k < m; k++) mean[k] /= n;                                                               \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                                        \
            const float *xr = x + r * stride;                                                                         \
            _Pragma("clang loop vectorize(assume_safety)")                                                            \
            for (ptrdiff_t k = 0; k < m; k++) {                                                                       \
                float d = xr[k] - mean[k];                                                                            \
                variance[k] += d * d;                                                                                 \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    attributes static void bn_normalise_##suffix(const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m,       \
                                                 const float *scale, const float *shift, const float *mean,          \
                                                 const float *inverse, float *y) {                                    \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                                        \
            const float *xr = x + r * stride;                                                                         \
            float *yr = y + r * stride;                                                                               \
            _Pragma("clang loop vectorize(assume_safety)")                                                            \
            for (ptrdiff_t k = 0; k < m; k++) yr[k] = scale[k] * ((xr[k] - mean[k]) * inverse[k]) + shift[k];         \
        }                                                                                                             \
    }                                                                                                                 \
    attributes static void bn_backward_##suffix(const float *x, const float *g, ptrdiff_t stride, ptrdiff_t rows,     \
                                                ptrdiff_t m, const float *scale, const float *mean,                  \
                                                const float *inverse, float *sg, float *sgx, float *dx) {            \
        const float n = (float)rows;                                                                                  \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                                        \
            const float *gr = g + r * stride, *xr = x + r * stride;                                                   \
            _Pragma("clang loop vectorize(assume_safety)")                                                            \
            for (ptrdiff_t k = 0; k < m; k++) {                                                                       \
                sg[k] += gr[k];                                                                                       \
                sgx[k] += gr[k] * (xr[k] - mean[k]) * inverse[k];                                                     \
            }                                                                                                         \
        }                                                                                                             \
        for (ptrdiff_t r = 0; r < rows; r++) {                                                                        \
            const float *gr = g + r * stride, *xr = x + r * stride;                                                   \
            float *dr = dx + r * stride;                                                                              \
            _Pragma("clang loop vectorize(assume_safety)")                                                            \
            for (ptrdiff_t k = 0; k < m; k++) {                                                                       \
                float scaled = scale[k] * inverse[k];                                                                 \
                dr[k] = scaled * (gr[k] - sg[k] / n - (xr[k] - mean[k]) * inverse[k] * sgx[k] / n);                   \
            }                                                                                                         \
        }                                                                                                             \
    }

LK_EACH_LEVEL(LOOPS)

void lk_batch_norm_statistics_f32(int level, const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m, float *mean,
                                  float *variance) {
    LK_PICK(level, bn_statistics)(x, stride, rows, m, mean, variance);
}

void lk_batch_norm_normalise_f32(int level, const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m, const float *scale,
                                 const float *shift, const float *mean, const float *inverse, float *y) {
    LK_PICK(level, bn_normalise)(x, stride, rows, m, scale, shift, mean, inverse, y);
}

void lk_batch_norm_backward_f32(int level, const float *x, const float *g, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m,
                                const float *scale, const float *mean, const float *inverse, float *sg, float *sgx, float *dx) {
    LK_PICK(level, bn_backward)(x, g, stride, rows, m, scale, mean, inverse, sg, sgx, dx);
}
