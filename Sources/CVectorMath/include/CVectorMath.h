// Array forms of the CPU backend's exp, softplus and sigmoid (Sources/LatentCPU/VectorMath.swift), compiled for three
// instruction sets and chosen at run time. Swift cannot compile one function for AVX-512 inside a package built for
// baseline x86-64, C can (a `target` attribute per function); the results are the same bits on every instruction set.
#ifndef LATENTKIT_CVECTORMATH_H
#define LATENTKIT_CVECTORMATH_H

#include <stddef.h>

/// Instruction sets the kernels are compiled for: 0 baseline (SSE2 on x86-64, or whatever the target is elsewhere),
/// 1 AVX2, 2 AVX-512F. A level above what the caller has checked the CPU supports must never be passed.
enum { LK_VECTOR_BASELINE = 0, LK_VECTOR_AVX2 = 1, LK_VECTOR_AVX512 = 2 };

/// The highest level compiled into this build (0 on a non-x86 target).
int lk_vector_level_compiled(void);

/// y[i] = f(x[i]) for i < n; x and y may be the same array (in place), otherwise they must not overlap.
void lk_vector_exp_f32(int level, const float *x, float *y, ptrdiff_t n);
void lk_vector_softplus_f32(int level, const float *x, float *y, ptrdiff_t n);
void lk_vector_sigmoid_f32(int level, const float *x, float *y, ptrdiff_t n);

#endif
