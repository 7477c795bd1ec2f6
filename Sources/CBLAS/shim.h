// OpenBLAS's CBLAS interface (Debian: libopenblas-dev), used for the CPU backend's GEMM.
#ifndef LATENTKIT_CBLAS_SHIM_H
#define LATENTKIT_CBLAS_SHIM_H
#include <cblas.h>
#endif
