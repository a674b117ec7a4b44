/*
 * hrm_parallel_range over either thread pool (threadpool.c natively, wasm/runtime.c in the WASM build): [0, n) cut
 * into contiguous chunks of at least `grain` items, about four per thread, each one task of hrm_parallel_for.
 */
#include "threadpool.h"

typedef struct {
  hrm_range_fn fn;
  void *ctx;
  long n, chunk;
} range_job;

static void range_task(void *ctx, int task, int thread) {
  range_job *r = ctx;
  long b = task * r->chunk, e = b + r->chunk < r->n ? b + r->chunk : r->n;
  if (b < e) r->fn(r->ctx, b, e, thread);
}

void hrm_parallel_range(long n, long grain, hrm_range_fn fn, void *ctx) {
  if (n <= 0) return;
  long tasks = n / (grain > 0 ? grain : 1);
  long cap = 4L * hrm_num_threads();
  if (tasks > cap) tasks = cap;
  if (tasks <= 1) {
    fn(ctx, 0, n, hrm_thread_index());
    return;
  }
  range_job r = {fn, ctx, n, (n + tasks - 1) / tasks};
  hrm_parallel_for((int)((n + r.chunk - 1) / r.chunk), range_task, &r);
}
