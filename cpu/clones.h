// Function multiversioning for the CPU kernels' loops: a function marked HY_CPU_CLONES is compiled
// for x86-64-v3 (AVX2, FMA) and the baseline, HY_CPU_CLONES_WIDE for x86-64-v4 (AVX-512) as well,
// and the loader picks one for the running CPU. Loops that compute more than they move (exp, erfc)
// get the wide copy: twice the lanes per instruction. A clone calls the same-target clone of
// another multiversioned function, so the dispatch happens once, at the outermost marked call.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HY_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define HY_CPU_CLONES_WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HY_CPU_CLONES
#define HY_CPU_CLONES_WIDE
#endif
