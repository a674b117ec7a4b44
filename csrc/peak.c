/*
 * FMA peak microbenchmark: each thread runs many independent vector FMA chains (enough to cover FMA latency
 * on both pipes) with the widest ISA the GEMM uses, so "peak" means what our own kernels could reach.
 */
#include "peak.h"

#include <time.h>

#include "cpu.h"
#include "threadpool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CHAINS 16
#define ITERS 4096L

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float run_avx512(long reps) {
  __m512 acc[CHAINS], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
  for (long i = 0; i < reps * ITERS; i++)
#pragma GCC unroll 16
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  __m512 s = acc[0];
  for (int c = 1; c < CHAINS; c++) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) static float run_avx2(long reps) {
  __m256 acc[CHAINS], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
  for (long i = 0; i < reps * ITERS; i++)
#pragma GCC unroll 16
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  float out[8], s = 0;
  for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  _mm256_storeu_ps(out, acc[0]);
  for (int i = 0; i < 8; i++) s += out[i];
  return s;
}
#endif

static float run_generic(long reps) {
  float acc[CHAINS][4], s = 0;
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < 4; l++) acc[c][l] = (float)c;
  for (long i = 0; i < reps * ITERS; i++)
    for (int c = 0; c < CHAINS; c++)
      for (int l = 0; l < 4; l++) acc[c][l] = acc[c][l] * 0.999999f + 1e-7f;
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < 4; l++) s += acc[c][l];
  return s;
}

/* Flops per rep of the chosen ISA's loop. */
static double flops_per_rep(hrm_isa isa) {
  int lanes = isa == HRM_ISA_AVX512 ? 16 : isa == HRM_ISA_AVX2 ? 8 : 4;
  return 2.0 * lanes * CHAINS * ITERS;
}

static float run(hrm_isa isa, long reps) {
#if defined(__x86_64__)
  if (isa == HRM_ISA_AVX512) return run_avx512(reps);
  if (isa == HRM_ISA_AVX2) return run_avx2(reps);
#endif
  return run_generic(reps);
}

typedef struct {
  hrm_isa isa;
  long reps;
  volatile float sink[256];
} peak_job;

static void peak_task(void *ctx, int task, int thread) {
  peak_job *j = ctx;
  (void)task;
  j->sink[thread & 255] = run(j->isa, j->reps);
}

double hrm_fma_peak_gflops(int threads, double seconds) {
  hrm_isa isa = hrm_cpu_isa();
  peak_job j = {isa, 16, {0}};
  double best = 0;
  /* One task per thread asked for, up to the pool's size (it ran all of the pool's threads for any count > 1:
   * 2 read as 16 on a 16-thread machine). */
  int n = threads <= 1 ? 1 : threads < hrm_num_threads() ? threads : hrm_num_threads();
  double start = now_s();
  while (now_s() - start < seconds) {
    double t0 = now_s();
    if (n == 1)
      peak_task(&j, 0, 0);
    else
      hrm_parallel_for(n, peak_task, &j);
    double dt = now_s() - t0;
    double g = n * j.reps * flops_per_rep(isa) / dt / 1e9;
    if (g > best) best = g;
    if (dt < 0.02) j.reps *= 2; /* grow until one run is long enough to time */
  }
  return best;
}
