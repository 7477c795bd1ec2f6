// The one pattern of this target's files: a loop defined once as a macro LOOP(suffix, attributes), instantiated for
// each instruction set the build can target (LK_EACH_LEVEL), and the instance for a caller's level picked by
// LK_PICK(level, name), which names the function name_avx512, name_avx2 or name_baseline.
#ifndef LATENTKIT_CVECTORMATH_LEVELS_H
#define LATENTKIT_CVECTORMATH_LEVELS_H

#include "CVectorMath.h"

#if defined(__x86_64__)
#define LK_LEVEL_COMPILED LK_VECTOR_AVX512
#define LK_EACH_LEVEL(LOOP)                            \
    LOOP(baseline, )                                   \
    LOOP(avx2, __attribute__((target("avx2"))))        \
    LOOP(avx512, __attribute__((target("avx512f"))))
#define LK_PICK(level, name) \
    ((level) >= LK_VECTOR_AVX512 ? name##_avx512 : (level) == LK_VECTOR_AVX2 ? name##_avx2 : name##_baseline)
#else
#define LK_LEVEL_COMPILED LK_VECTOR_BASELINE
#define LK_EACH_LEVEL(LOOP) LOOP(baseline, )
#define LK_PICK(level, name) ((void)(level), name##_baseline)
#endif

#endif
