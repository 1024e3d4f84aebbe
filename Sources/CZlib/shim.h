#ifndef SLIPWAY_CZLIB_SHIM_H
#define SLIPWAY_CZLIB_SHIM_H
// zlib for Slipway's builder (gzip variants of published files).
#include <zlib.h>
#endif
