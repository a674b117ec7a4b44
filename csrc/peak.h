/* Measured FP32 FMA peak of this machine: the yardstick for GEMM efficiency and model FLOP utilisation. */
#ifndef HRM_PEAK_H
#define HRM_PEAK_H
/* GFLOP/s of independent FMA chains on `threads` pool threads (at most the pool's): the work all of them got
 * done in a common 20 ms window, best of the windows that fit in `seconds` (at least one). */
double hrm_fma_peak_gflops(int threads, double seconds);
#endif
