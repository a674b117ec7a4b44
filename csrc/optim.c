/*
 * Optimiser kernels: the AdamATan2 element update, parallel over element ranges and vectorised (float
 * arithmetic, and a branch-free polynomial atan2 for x >= 0 with max error 4e-8 rad, below a float32 ulp
 * near pi/2; libm atan2f is scalar and cost ~5x more). The reference computes in double; the conformance
 * tests bound the difference.
 */
#include <math.h>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

/* atan2(y, x) for x >= 0 (here x = sqrt(v) / bc2): odd minimax polynomial for atan on [0, 1] after
 * reducing by min/max, reflected through pi/2 when |y| > x. */
static inline float atan2_xpos(float y, float x) {
  float ay = fabsf(y);
  float mx = ay > x ? ay : x, mn = ay > x ? x : ay;
  float z = mx > 0.0f ? mn / mx : 0.0f;
  float z2 = z * z;
  float p = -0.0040540580f;
  p = p * z2 + 0.0218612288f;
  p = p * z2 - 0.0559098861f;
  p = p * z2 + 0.0964200441f;
  p = p * z2 - 0.1390853351f;
  p = p * z2 + 0.1994653599f;
  p = p * z2 - 0.3332985605f;
  p = (p * z2 + 0.9999993329f) * z;
  float r = ay > x ? 1.5707963268f - p : p;
  return y < 0.0f ? -r : r;
}

typedef struct {
  float *p, *m, *v;
  const float *g;
  float decay, a1, a2, step, inv_bc2;
} adam_args;

HRM_CLONES static void adam_range(void *c, long b, long e, int th) {
  const adam_args *a = c;
  (void)th;
  float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
  const float *restrict g = a->g;
  for (long j = b; j < e; j++) {
    float gj = g[j];
    float mj = m[j] + a->a1 * (gj - m[j]);
    float vj = v[j] + a->a2 * (gj * gj - v[j]);
    m[j] = mj;
    v[j] = vj;
    p[j] = p[j] * a->decay - a->step * atan2_xpos(mj, sqrtf(vj) * a->inv_bc2);
  }
}

void hrm_adam_atan2(float *param, const float *grad, float *m, float *v, long n, double lr, double beta1,
                    double beta2, double wd, double step_size, double bc2) {
  adam_args a = {param, m, v, grad, (float)(1.0 - lr * wd), (float)(1.0 - beta1), (float)(1.0 - beta2),
                 (float)step_size, (float)(1.0 / bc2)};
  hrm_parallel_range(n, 1L << 15, adam_range, &a);
}
