// Which vector instruction sets this CPU and its OS support, for the choice of kernels at run time.
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

int rnnkit_cpu_isa(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        int isa = 0;
        // The runtime's feature bits include the OS check (XGETBV) that ymm and zmm state is saved.
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            isa |= RNNKIT_ISA_AVX2;
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
                isa |= RNNKIT_ISA_AVX512;
        }
        known = isa;
    }
    return known;
}

#else

int rnnkit_cpu_isa(void) { return 0; }

#endif
