// Array forms of the CPU backend's exp, softplus, sigmoid, Gumbel noise and softplus backward
// (Sources/LatentCPU/VectorMath.swift), of its Philox uniforms (Sources/LatentCore/Philox.swift) and of its Adam step,
// compiled for three instruction sets and chosen at run time. Swift cannot compile one function for AVX-512 inside a package built for baseline x86-64, C can (a
// `target` attribute per function); the results are the same bits on every instruction set.
#ifndef LATENTKIT_CVECTORMATH_H
#define LATENTKIT_CVECTORMATH_H

#include <stddef.h>
#include <stdint.h>

/// Instruction sets the kernels are compiled for: 0 baseline (SSE2 on x86-64, or whatever the target is elsewhere),
/// 1 AVX2, 2 AVX-512F. A level above what the caller has checked the CPU supports must never be passed.
enum { LK_VECTOR_BASELINE = 0, LK_VECTOR_AVX2 = 1, LK_VECTOR_AVX512 = 2 };

/// The highest level compiled into this build (0 on a non-x86 target).
int lk_vector_level_compiled(void);

/// y[i] = f(x[i]) for i < n; x and y may be the same array (in place), otherwise they must not overlap.
void lk_vector_exp_f32(int level, const float *x, float *y, ptrdiff_t n);
void lk_vector_softplus_f32(int level, const float *x, float *y, ptrdiff_t n);
void lk_vector_sigmoid_f32(int level, const float *x, float *y, ptrdiff_t n);
/// y[i] = -log(-log x[i]) for x[i] in (0, 1) (Gumbel noise from uniforms); other arguments give unspecified values.
void lk_vector_gumbel_f32(int level, const float *x, float *y, ptrdiff_t n);

/// out[r] = the sum over j < cols, in double and in j's order, of x[r cols + j] l[r cols + j] - sp[r cols + j] (each
/// term in float), for r < rows: the Bernoulli log-likelihood of rows of logits l and targets x, given sp = softplus(l).
/// Several rows' sums run side by side, each its own chain of additions, so the bits are those of one row at a time.
void lk_bernoulli_row_sums_f32(const float *l, const float *x, const float *sp, float *out, ptrdiff_t rows, ptrdiff_t cols);

/// out[r] = the sum over j < cols, in double and in j's order, of x[r cols + j], for r < rows; four rows' chains of
/// additions side by side, so the bits are those of one row at a time.
void lk_row_sums_f64_f32(const float *x, double *out, ptrdiff_t rows, ptrdiff_t cols);

/// out[r] = the sum over j < cols, in double and in j's order, of c[r cols + j] (l[r cols + j] - z[r]) (each term in
/// float), for r < rows: the multinomial log-likelihood of counts c under logits l with log-normalisers z, four rows'
/// chains side by side as above.
void lk_multinomial_row_sums_f32(const float *c, const float *l, const float *z, float *out, ptrdiff_t rows, ptrdiff_t cols);

/// d[i] = sigmoid(a[i]) g[i] and acc[i] += d[i] (in double) for i < n: a row of the softplus layer's backward pass
/// with its bias-gradient column sums. d must not overlap a, g or acc.
void lk_softplus_backward_f32(int level, const float *a, const float *g, float *d, double *acc, ptrdiff_t n);

/// Philox4x32-10 uniforms on (0, 1): out[4 b + w] is (k + 1/2) 2^-23 for the top 23 bits k of word w of the block
/// whose counter is (low + b as its low 64 bits, c2, c3), key (seed, stream), for b < blocks (Philox.blocks16 and
/// Philox.uniform in Sources/LatentCore/Philox.swift).
void lk_philox_uniform_f32(int level, uint32_t seed, uint32_t stream, uint64_t low, uint32_t c2, uint32_t c3, float *out,
                           ptrdiff_t blocks);

/// One Adam step over n parameters: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g g,
/// p -= step_size m / (sqrt(v) / sqrt_bc2 + epsilon) (CPUBackend+Optimisers.swift).
void lk_adam_f32(int level, float *p, const float *g, float *m, float *v, ptrdiff_t n, float b1, float b2, float epsilon,
                 float step_size, float sqrt_bc2);

/// Batch normalisation over a block of m columns of a row-major matrix with row stride `stride` (batch_norm.c); each
/// column's sums in row order. Statistics: mean[k] += x[r][k] over the rows, then mean[k] /= rows, then
/// variance[k] += (x[r][k] - mean[k])^2 (mean and variance start at zero; variance is left unscaled).
void lk_batch_norm_statistics_f32(int level, const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m, float *mean,
                                  float *variance);
/// y[r][k] = scale[k] ((x[r][k] - mean[k]) inverse[k]) + shift[k]; y may be x.
void lk_batch_norm_normalise_f32(int level, const float *x, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m, const float *scale,
                                 const float *shift, const float *mean, const float *inverse, float *y);
/// The backward pass: sg[k] += g[r][k] and sgx[k] += g[r][k] (x[r][k] - mean[k]) inverse[k] over the rows (both start at
/// zero), then dx[r][k] = scale[k] inverse[k] (g[r][k] - sg[k] / rows - (x[r][k] - mean[k]) inverse[k] sgx[k] / rows);
/// dx may be g.
void lk_batch_norm_backward_f32(int level, const float *x, const float *g, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t m,
                                const float *scale, const float *mean, const float *inverse, float *sg, float *sgx, float *dx);

/// out[j] = u[j] < p[j] ? 1 : 0 for j < n: a row of dynamic binarisation (data_feed.c).
void lk_binarise_f32(int level, const float *u, const float *p, float *out, ptrdiff_t n);
/// Asks the cache for the n floats at p (a row the caller reads next), without waiting for them.
void lk_prefetch_f32(const float *p, ptrdiff_t n);

#endif
