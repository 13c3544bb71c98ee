// The kernels of kernels_impl.h built with -mavx2 -mfma; only called when the CPU has them.
#define LG_KNS avx2
#include "kernels_impl.h"
