/* Measured FP32 FMA peak of this machine: the yardstick for GEMM efficiency and model FLOP utilisation. */
#ifndef HRM_PEAK_H
#define HRM_PEAK_H
/* GFLOP/s of independent FMA chains on `threads` pool threads (at most the pool's), best of a few short runs. */
double hrm_fma_peak_gflops(int threads, double seconds);
#endif
