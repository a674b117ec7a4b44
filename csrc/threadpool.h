/*
 * Persistent thread pool for the native kernels: threads are created once (HRM_NUM_THREADS, default one per
 * core this process may run on) and woken per parallel region, never created per call.
 * Not re-entrant: a parallel region started from inside a task runs inline on the calling thread.
 */
#ifndef HRM_THREADPOOL_H
#define HRM_THREADPOOL_H

#include <stddef.h>

/* A task body: task index in [0, ntasks), thread index in [0, hrm_num_threads()) for per-thread scratch. */
typedef void (*hrm_task_fn)(void *ctx, int task, int thread);

int hrm_num_threads(void);
/* Changes the thread count (>= 1); joins and recreates the workers. Not thread-safe with running work. */
void hrm_set_num_threads(int n);
/* Runs fn for every task index, the caller taking part; returns when all tasks are done. */
void hrm_parallel_for(int ntasks, hrm_task_fn fn, void *ctx);

/* The calling thread's pool index (0 for the caller of a region, and any thread outside one). */
int hrm_thread_index(void);

/* Runs fn over [0, n) cut into contiguous chunks of at least `grain` items (so tiny inputs stay on the
 * calling thread and skip the wake-up cost); about four chunks per thread for balance. */
typedef void (*hrm_range_fn)(void *ctx, long begin, long end, int thread);
void hrm_parallel_range(long n, long grain, hrm_range_fn fn, void *ctx);
/* Per-thread scratch of at least `bytes`, 64-byte aligned, kept between calls. Each user has its own slot,
 * so buffers in use at the same time never alias. */
enum {
  HRM_SCRATCH_GEMM_A,        /* packed A block */
  HRM_SCRATCH_GEMM_B,        /* packed B of a column-split task */
  HRM_SCRATCH_GEMM_SHARED_B, /* packed B shared by all threads (thread 0's slot) */
  HRM_SCRATCH_ATTN_FWD,
  HRM_SCRATCH_ATTN_BWD,
  HRM_SCRATCH_GLU,       /* the gate_up product of an unfused hrm_linear_swiglu */
  HRM_SCRATCH_GEMM_PAIRS, /* a transposed A rearranged: bfloat16 pairs (thread 0's), or a row-major strip */
  HRM_SCRATCH_GEMM_SWAP,  /* Cᵀ of a product computed the other way round (thread 0's) */
  HRM_SCRATCH_SLOTS
};
void *hrm_thread_scratch(int slot, int thread, size_t bytes);

#endif
