/*
 * Loss kernels, per token: softmax cross-entropy (float32 math like the official F.cross_entropy on float32
 * logits), stablemax cross-entropy (float64 math, as the official code casts to float64), and binary
 * cross-entropy with logits for the Q-head. Loss buffers may be float32 or float64.
 */
#include <math.h>

#include "kernels.h"
#include "threadpool.h"

typedef struct {
  int kind, l64, ignore;
  void *losses;
  const void *dlosses;
  float *dlogits;
  const float *logits;
  const int32_t *labels;
  long T, V;
} ce_args;

static double stable_s(double x) { return x < 0 ? 1.0 / (1.0 - x + 1e-30) : x + 1.0; }
static double stable_ds(double x) {
  if (x >= 0) return 1.0;
  double d = 1.0 - x + 1e-30;
  return 1.0 / (d * d);
}

static void store(void *buf, int f64, long i, double v) {
  if (f64)
    ((double *)buf)[i] = v;
  else
    ((float *)buf)[i] = (float)v;
}
static double load(const void *buf, int f64, long i) { return f64 ? ((const double *)buf)[i] : ((const float *)buf)[i]; }

/* log Σ exp(x - max) + max, in float32. */
static float logsumexp_f32(const float *x, long V) {
  float m = x[0];
  for (long v = 1; v < V; v++) m = x[v] > m ? x[v] : m;
  float s = 0;
  for (long v = 0; v < V; v++) s += expf(x[v] - m);
  return logf(s) + m;
}

static void ce_fwd_range(void *c, long t0, long t1, int th) {
  const ce_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    int y = a->labels[t];
    const float *x = a->logits + t * a->V;
    double loss = 0;
    if (y != a->ignore) {
      if (a->kind == 0) {
        loss = logsumexp_f32(x, a->V) - x[y];
      } else {
        double sum = 0;
        for (long v = 0; v < a->V; v++) sum += stable_s(x[v]);
        loss = -log(stable_s(x[y]) / sum);
      }
    }
    store(a->losses, a->l64, t, loss);
  }
}

static void ce_bwd_range(void *c, long t0, long t1, int th) {
  const ce_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    int y = a->labels[t];
    const float *x = a->logits + t * a->V;
    float *dx = a->dlogits + t * a->V;
    if (y == a->ignore) {
      for (long v = 0; v < a->V; v++) dx[v] = 0;
      continue;
    }
    double g = load(a->dlosses, a->l64, t);
    if (a->kind == 0) {
      float lse = logsumexp_f32(x, a->V);
      for (long v = 0; v < a->V; v++) dx[v] = (float)(g * (expf(x[v] - lse) - (v == y ? 1.0f : 0.0f)));
    } else {
      double sum = 0;
      for (long v = 0; v < a->V; v++) sum += stable_s(x[v]);
      double dy = stable_ds(x[y]) / stable_s(x[y]);
      for (long v = 0; v < a->V; v++) dx[v] = (float)(g * (stable_ds(x[v]) / sum - (v == y ? dy : 0.0)));
    }
  }
}

static long ce_grain(long V) { return V >= 4096 ? 1 : 4096 / V + 1; }

void hrm_ce_fwd(int kind, void *losses, int losses_f64, const float *logits, const int32_t *labels, long T, long V,
                int ignore) {
  ce_args a = {kind, losses_f64, ignore, losses, NULL, NULL, logits, labels, T, V};
  hrm_parallel_range(T, ce_grain(V), ce_fwd_range, &a);
}

void hrm_ce_bwd(int kind, float *dlogits, const void *dlosses, int dlosses_f64, const float *logits,
                const int32_t *labels, long T, long V, int ignore) {
  ce_args a = {kind, dlosses_f64, ignore, NULL, dlosses, dlogits, logits, labels, T, V};
  hrm_parallel_range(T, ce_grain(V), ce_bwd_range, &a);
}

/* Q-head sizes are one value per sequence: always serial. */
void hrm_bce_fwd(float *losses, const float *x, const float *y, long n) {
  for (long i = 0; i < n; i++) losses[i] = fmaxf(x[i], 0.0f) - x[i] * y[i] + log1pf(expf(-fabsf(x[i])));
}

void hrm_bce_bwd(float *dx, const float *dlosses, const float *x, const float *y, long n) {
  for (long i = 0; i < n; i++) dx[i] = dlosses[i] * (1.0f / (1.0f + expf(-x[i])) - y[i]);
}
