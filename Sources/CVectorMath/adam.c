// The CPU backend's Adam update (Sources/LatentCPU/CPUBackend+Optimisers.swift), compiled per instruction set like
// vector_math.c: the Swift loop's operations in its order, no contraction, IEEE square root and division, so every
// level gives its bits (VectorMathTests compare them).

#include "levels.h"

#pragma clang fp contract(off)

#define LOOP(suffix, attributes)                                                                                      \
    attributes static void adam_##suffix(float *p, const float *g, float *m, float *v, ptrdiff_t n, float b1, float b2, \
                                         float epsilon, float step_size, float sqrt_bc2) {                            \
        const float c1 = 1 - b1, c2 = 1 - b2;                                                                         \
        _Pragma("clang loop vectorize(assume_safety)")                                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                           \
            float grad = g[i];                                                                                        \
            float mi = b1 * m[i] + c1 * grad;                                                                         \
            float vi = b2 * v[i] + c2 * grad * grad;                                                                  \
            m[i] = mi;                                                                                                \
            v[i] = vi;                                                                                                \
            p[i] = p[i] - step_size * mi / (__builtin_elementwise_sqrt(vi) / sqrt_bc2 + epsilon);                     \
        }                                                                                                             \
    }

LK_EACH_LEVEL(LOOP)

void lk_adam_f32(int level, float *p, const float *g, float *m, float *v, ptrdiff_t n, float b1, float b2, float epsilon,
                 float step_size, float sqrt_bc2) {
    LK_PICK(level, adam)(p, g, m, v, n, b1, b2, epsilon, step_size, sqrt_bc2);
}
