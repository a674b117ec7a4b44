/*
 * What the kernels need from a C runtime, for the WASM build (csrc/ compiled to wasm32 by
 * scripts/build-wasm.mjs), which links no libc: a heap, the thread pool of threadpool.h, and cpu.h's answers.
 *
 * The heap: power-of-two size classes with a free list each, from memory grown on demand. No coalescing: the
 * users are the kernels' per-thread scratch and the backend's argument arena, which grow a few times and are
 * then reused, so the free lists serve almost every request.
 *
 * The shared-memory build's memory has a fixed size (JavaScript makes it; see makeWasmMemory): in V8 (Node 20)
 * a memory.grow with worker threads running left other threads' view of the memory stale (they trapped on the
 * new pages, or read a free-list block there), so it never grows; the single-thread build grows as needed.
 *
 * Threads (the shared-memory build, -matomics): JavaScript starts the workers (Web Workers, or worker_threads
 * in Node), each instantiating this module on the same memory with its own stack, and calls hrm_wasm_worker
 * there; the thread count is fixed once they have all checked in. Idle workers spin briefly on a generation
 * counter, then sleep in memory.atomic.wait32; the caller wakes them with memory.atomic.notify. Without
 * atomics (the single-thread build) nobody checks in and every region runs on the caller.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../cpu.h"
#include "../threadpool.h"

/* ---- heap ---- */
extern unsigned char __heap_base;
#define PAGE 65536u
#define HEADER 64u /* keeps blocks 64-byte aligned, as the kernels' scratch wants */
#define MIN_CLASS 6 /* 64 bytes */
#define NUM_CLASSES 32

static uintptr_t brk_top;
static void *free_lists[NUM_CLASSES];
static atomic_flag heap_lock = ATOMIC_FLAG_INIT;

static void lock(atomic_flag *f) {
  while (atomic_flag_test_and_set_explicit(f, memory_order_acquire)) {
  }
}
static void unlock(atomic_flag *f) { atomic_flag_clear_explicit(f, memory_order_release); }

static void *grow(size_t bytes) {
  if (!brk_top) brk_top = ((uintptr_t)&__heap_base + HEADER - 1) / HEADER * HEADER;
  uintptr_t end = brk_top + bytes, have = (uintptr_t)__builtin_wasm_memory_size(0) * PAGE;
  if (end < brk_top) return NULL;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + PAGE - 1) / PAGE) == (size_t)-1) return NULL;
  void *p = (void *)brk_top;
  brk_top = end;
  return p;
}

static int class_of(size_t bytes) {
  int c = MIN_CLASS;
  while (c < NUM_CLASSES && ((size_t)1 << c) < bytes + HEADER) c++;
  return c;
}

void *malloc(size_t bytes) {
  int c = class_of(bytes);
  if (c >= NUM_CLASSES) return NULL;
  lock(&heap_lock);
  unsigned char *block = free_lists[c];
  if (block)
    free_lists[c] = *(void **)block;
  else
    block = grow((size_t)1 << c);
  unlock(&heap_lock);
  if (!block) return NULL;
  *(int *)block = c;
  return block + HEADER;
}

void free(void *p) {
  if (!p) return;
  unsigned char *block = (unsigned char *)p - HEADER;
  int c = *(int *)block;
  lock(&heap_lock);
  *(void **)block = free_lists[c];
  free_lists[c] = block;
  unlock(&heap_lock);
}

/* Bytes a malloc'd block can hold: its size class, less the header. */
static size_t usable(void *p) { return ((size_t)1 << *(int *)((unsigned char *)p - HEADER)) - HEADER; }

/* ---- cpu.h: one kernel set, chosen when the module is built (SIMD128, or relaxed SIMD) ---- */
hrm_isa hrm_cpu_isa(void) { return HRM_ISA_GENERIC; }
const char *hrm_isa_name(hrm_isa isa) {
  (void)isa;
#ifdef __wasm_relaxed_simd__
  return "wasm-relaxed-simd";
#else
  return "wasm-simd128";
#endif
}
int hrm_cpu_bf16_dot_available(void) { return 0; }
int hrm_cpu_bf16_dot(void) { return 0; }

/* ---- thread pool ---- */

#define MAX_THREADS 64
#define SPIN_ITERS 20000

static struct {
  atomic_int registered; /* workers checked in; the pool has registered + 1 threads */
  atomic_int gen;        /* bumped once per parallel region */
  atomic_int next_task;
  atomic_int finished;      /* workers done with the current region */
  atomic_int worker_failed; /* set by JavaScript when a worker's code trapped (out of memory): see below */
  int ntasks;
  hrm_task_fn fn;
  void *ctx;
  int closed; /* registration closed: the thread count is fixed from then on */
} P;
static atomic_flag reg_lock = ATOMIC_FLAG_INIT;

/* This thread's pool index, and whether it is inside a parallel region: thread-local (each worker's TLS block
 * is set up by JavaScript with __wasm_init_tls before hrm_wasm_worker; the caller's is the module's own). */
static _Thread_local int my_id;
static _Thread_local int in_region;

int hrm_num_threads(void) { return 1 + atomic_load_explicit(&P.registered, memory_order_acquire); }
void hrm_set_num_threads(int n) { (void)n; /* JavaScript owns the workers: see src/kernels/wasm */ }

static void run_tasks(int thread) {
  for (;;) {
    int t = atomic_fetch_add_explicit(&P.next_task, 1, memory_order_relaxed);
    if (t >= P.ntasks) break;
    P.fn(P.ctx, t, thread);
  }
}

/* A worker's life: called by JavaScript on a worker thread, on its own stack and TLS block (set up before the
 * call); it then serves parallel regions until the thread ends. Returns 0 at once when registration has closed (a
 * worker that started too late never joins, so every region keeps the thread count it started with) or the pool
 * is full. Workers take thread indices 1, 2, ... as they check in. */
int hrm_wasm_worker(void) {
  lock(&reg_lock);
  int id = atomic_load_explicit(&P.registered, memory_order_relaxed) + 1;
  if (P.closed || id >= MAX_THREADS) {
    unlock(&reg_lock);
    return 0;
  }
  my_id = id;
  in_region = 1;
  int seen = atomic_load_explicit(&P.gen, memory_order_acquire);
  atomic_store_explicit(&P.registered, id, memory_order_release);
  unlock(&reg_lock);
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen) {
      if (++spins < SPIN_ITERS) continue;
#ifdef __wasm_atomics__
      __builtin_wasm_memory_atomic_wait32((int *)&P.gen, seen, -1);
#endif
    }
    seen = atomic_load_explicit(&P.gen, memory_order_acquire);
    run_tasks(id);
    atomic_fetch_add_explicit(&P.finished, 1, memory_order_release);
  }
}

static void wake_all(void) {
  atomic_fetch_add_explicit(&P.gen, 1, memory_order_acq_rel);
#ifdef __wasm_atomics__
  __builtin_wasm_memory_atomic_notify((int *)&P.gen, (unsigned)-1);
#endif
}

/* The address JavaScript sets to 1 when a worker dies (a trap, e.g. its scratch did not fit in the memory): the
 * caller then traps too instead of waiting for it forever, and the backend reports the failure. */
int *hrm_wasm_failed_flag(void) { return (int *)&P.worker_failed; }
int hrm_wasm_registered(void) { return atomic_load_explicit(&P.registered, memory_order_acquire); }
/* Fixes the thread count at the workers checked in so far (before the first parallel region) and returns it. */
int hrm_wasm_close_registration(void) {
  lock(&reg_lock);
  P.closed = 1;
  int n = atomic_load_explicit(&P.registered, memory_order_acquire);
  unlock(&reg_lock);
  return n;
}

void hrm_parallel_for(int ntasks, hrm_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  int nth = hrm_num_threads();
  if (ntasks == 1 || nth == 1 || in_region) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, my_id);
    return;
  }
  P.fn = fn;
  P.ctx = ctx;
  P.ntasks = ntasks;
  atomic_store_explicit(&P.next_task, 0, memory_order_relaxed);
  atomic_store_explicit(&P.finished, 0, memory_order_relaxed);
  wake_all();
  in_region = 1;
  run_tasks(0);
  in_region = 0;
  while (atomic_load_explicit(&P.finished, memory_order_acquire) < nth - 1)
    if (atomic_load_explicit(&P.worker_failed, memory_order_relaxed)) __builtin_trap();
}

int hrm_thread_index(void) { return my_id; }

static struct {
  void *p;
  size_t cap;
} scratch[HRM_SCRATCH_SLOTS][MAX_THREADS];

void *hrm_thread_scratch(int slot, int thread, size_t bytes) {
  if (scratch[slot][thread].cap < bytes) {
    free(scratch[slot][thread].p);
    scratch[slot][thread].p = malloc(bytes);
    scratch[slot][thread].cap = scratch[slot][thread].p ? usable(scratch[slot][thread].p) : 0;
  }
  return scratch[slot][thread].p;
}

/* The GEMM micro-kernel of this build, for the backend's name. */
#include "../gemm.h"
const char *hrm_wasm_kernel_name(void) { return hrm_ukr_selected().name; }
