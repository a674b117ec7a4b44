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
  double deadline;
  long units[256];
  volatile float sink[256];
} peak_job;

/* FMA chains in units of one rep (~2 MFLOP with AVX-512, ~10 us) until the shared deadline. */
static void peak_task(void *ctx, int task, int thread) {
  peak_job *j = ctx;
  long units = 0;
  (void)thread;
  do {
    j->sink[task & 255] = run(j->isa, 1);
    units++;
  } while (now_s() < j->deadline);
  j->units[task & 255] = units;
}

/* The flops all tasks did over one common window, per second: each thread counts the work it got done before
 * the deadline, so a thread that shares its core with another process (on a shared host) lowers the total
 * by what it lost, not the whole reading to its own pace, as timing the slowest of equal shares did (2
 * threads read as 1 whenever a core was busy, while the model's balanced kernels ran near 2). */
static double window_gflops(peak_job *j, int n, double window) {
  double t0 = now_s();
  j->deadline = t0 + window;
  if (n == 1)
    peak_task(j, 0, 0);
  else
    hrm_parallel_for(n, peak_task, j);
  double dt = now_s() - t0;
  long units = 0;
  for (int t = 0; t < n; t++) units += j->units[t];
  return units * flops_per_rep(j->isa) / dt / 1e9;
}

double hrm_fma_peak_gflops(int threads, double seconds) {
  peak_job j = {hrm_cpu_isa(), 0, {0}, {0}};
  double best = 0;
  /* One task per thread asked for, up to the pool's size (it ran all of the pool's threads for any count > 1:
   * 2 read as 16 on a 16-thread machine). */
  int n = threads <= 1 ? 1 : threads < hrm_num_threads() ? threads : hrm_num_threads();
  if (n > 256) n = 256;
  double start = now_s();
  do {
    double g = window_gflops(&j, n, 0.02);
    if (g > best) best = g;
  } while (now_s() - start < seconds);
  return best;
}
