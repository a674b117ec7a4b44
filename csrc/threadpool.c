/*
 * Thread pool implementation: workers spin briefly on a generation counter (cheap wake-up for back-to-back
 * kernels), then sleep on a condition variable so idle workers do not burn a core. Tasks are handed out by
 * an atomic counter, which balances uneven task costs.
 */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "memory.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 256
#define SPIN_ITERS 20000 /* ~ tens of microseconds of spinning before a worker sleeps */

static struct {
  int nthreads;
  int started;
  pthread_t threads[MAX_THREADS];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;      /* bumped once per parallel region; workers wait for a change */
  atomic_int next_task; /* next task index to hand out */
  atomic_int finished;  /* workers done with the current region */
  int sleepers;         /* workers blocked on cv (guarded by mu) */
  int quit;
  unsigned start_gen; /* gen when the workers were created: the first region is any later value */
  int ntasks;
  hrm_task_fn fn;
  void *ctx;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_region = 0; /* set inside tasks and on workers */
static _Thread_local int my_id = 0;      /* pool index of this thread, 0 for the caller */

static void run_tasks(int thread) {
  for (;;) {
    int t = atomic_fetch_add_explicit(&P.next_task, 1, memory_order_relaxed);
    if (t >= P.ntasks) break;
    P.fn(P.ctx, t, thread);
  }
}

static void *worker_main(void *arg) {
  int id = (int)(size_t)arg;
  unsigned seen = P.start_gen;
  in_region = 1;
  my_id = id;
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen) {
      if (++spins < SPIN_ITERS) {
        CPU_RELAX();
        continue;
      }
      pthread_mutex_lock(&P.mu);
      P.sleepers++;
      while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen) pthread_cond_wait(&P.cv, &P.mu);
      P.sleepers--;
      pthread_mutex_unlock(&P.mu);
    }
    seen = atomic_load_explicit(&P.gen, memory_order_acquire);
    if (P.quit) return NULL;
    run_tasks(id);
    atomic_fetch_add_explicit(&P.finished, 1, memory_order_release);
  }
}

static int default_threads(void) {
  const char *env = getenv("HRM_NUM_THREADS");
  if (env && atoi(env) > 0) return atoi(env);
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void wake_all(void) {
  pthread_mutex_lock(&P.mu);
  atomic_fetch_add_explicit(&P.gen, 1, memory_order_acq_rel);
  if (P.sleepers) pthread_cond_broadcast(&P.cv);
  pthread_mutex_unlock(&P.mu);
}

static void stop_workers(void) {
  if (!P.started) return;
  P.quit = 1;
  wake_all();
  for (int i = 1; i < P.nthreads; i++) pthread_join(P.threads[i], NULL);
  P.quit = 0;
  P.started = 0;
}

static void start_workers(int n) {
  if (n > MAX_THREADS) n = MAX_THREADS;
  P.nthreads = n;
  P.start_gen = atomic_load_explicit(&P.gen, memory_order_acquire);
  for (int i = 1; i < n; i++) {
    if (pthread_create(&P.threads[i], NULL, worker_main, (void *)(size_t)i) != 0) {
      P.nthreads = i; /* fewer threads than asked: still correct */
      break;
    }
  }
  P.started = 1;
}

int hrm_num_threads(void) {
  if (!P.started) start_workers(default_threads());
  return P.nthreads;
}

void hrm_set_num_threads(int n) {
  stop_workers();
  start_workers(n < 1 ? 1 : n);
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
  while (atomic_load_explicit(&P.finished, memory_order_acquire) < nth - 1) CPU_RELAX();
}

int hrm_thread_index(void) { return my_id; }

static struct {
  void *p;
  size_t cap;
} scratch_bufs[HRM_SCRATCH_SLOTS][MAX_THREADS];

void *hrm_thread_scratch(int slot, int thread, size_t bytes) {
  if (scratch_bufs[slot][thread].cap < bytes) {
    free(scratch_bufs[slot][thread].p);
    /* Big buffers are 2 MB aligned and marked for transparent huge pages: GEMM packing buffers are several
     * MB and are swept repeatedly, and 4 KB pages would cost a TLB miss every few micro-panels. */
    size_t align = bytes >= HRM_HUGE_PAGE ? HRM_HUGE_PAGE : 64;
    size_t rounded = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded);
    if (p && align > 64) (void)hrm_advise_huge_pages(p, rounded, rounded);
    scratch_bufs[slot][thread].p = p;
    scratch_bufs[slot][thread].cap = p ? rounded : 0;
  }
  return scratch_bufs[slot][thread].p;
}
