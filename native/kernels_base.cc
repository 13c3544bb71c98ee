// The kernels of kernels_impl.h built for any CPU of the architecture (x86-64: SSE2).
#define LG_KNS base
#include "kernels_impl.h"
