// zlib (Debian: zlib1g-dev): gzip reading for IDX files, deflate and CRC-32 for PNG.
#ifndef LATENTKIT_CZLIB_SHIM_H
#define LATENTKIT_CZLIB_SHIM_H
#include <zlib.h>
#endif
