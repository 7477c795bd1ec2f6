// Row loops of the CPU backend's data feed (gatherRows in CPUBackend+LinearAlgebra.swift), compiled per instruction set
// like vector_math.c.

#include "levels.h"

#define LOOPS(suffix, attributes)                                                                                      \
    attributes static void binarise_##suffix(const float *u, const float *p, float *out, ptrdiff_t n) {               \
        _Pragma("clang loop vectorize(assume_safety)")                                                                \
        for (ptrdiff_t j = 0; j < n; j++) out[j] = u[j] < p[j] ? 1.0f : 0.0f;                                         \
    }

LK_EACH_LEVEL(LOOPS)

void lk_binarise_f32(int level, const float *u, const float *p, float *out, ptrdiff_t n) {
    LK_PICK(level, binarise)(u, p, out, n);
}

void lk_prefetch_f32(const float *p, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j += 16) __builtin_prefetch(p + j, 0, 3);
    if (n > 0) __builtin_prefetch(p + n - 1, 0, 3);
}
