// OpenCL 1.2 API (the level every current driver implements, PoCL and NVIDIA included) and CLBlast's C API.
#ifndef LATENTKIT_COPENCL_SHIM_H
#define LATENTKIT_COPENCL_SHIM_H
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <clblast_c.h>
#endif
