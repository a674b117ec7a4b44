/*
 * Non-causal multi-head softmax attention over the packed qkv layout [B,S,3,NH,HD], one pool task per
 * (batch row, head). Each task copies its head's keys (transposed) and values into contiguous per-thread
 * scratch so the inner loops run unit-stride and vectorise. Materialises the [S,S] probabilities (saved
 * for the backward, as the contract says); a row-block (flash-style) version is future work.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

typedef struct {
  float *out, *probs, *dqkv;
  const float *qkv, *dout, *cprobs;
  long B, S, NH, HD;
} attn_args;

/* y[d] += alpha * x[d]; restrict lets the compiler vectorise the row updates without alias checks. */
static inline void axpy(long n, float alpha, const float *restrict x, float *restrict y) {
  for (long d = 0; d < n; d++) y[d] += alpha * x[d];
}

/* Row (b, s) part (0 q, 1 k, 2 v), head h of the packed qkv buffer. */
static inline long qkv_off(const attn_args *a, long b, long s, int part, long h) {
  return ((b * a->S + s) * 3 + part) * a->NH * a->HD + h * a->HD;
}

HRM_CLONES static void attn_fwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH;
  float *kt = hrm_thread_scratch(HRM_SCRATCH_ATTN_FWD, th, sizeof(float) * (2 * S * HD + S)); /* kt[HD][S], v[S][HD], row[S] */
  float *v = kt + S * HD, *row = v + S * HD;
  for (long j = 0; j < S; j++) {
    const float *kj = a->qkv + qkv_off(a, b, j, 1, h);
    for (long d = 0; d < HD; d++) kt[d * S + j] = kj[d];
    memcpy(v + j * HD, a->qkv + qkv_off(a, b, j, 2, h), HD * sizeof(float));
  }
  float scale = 1.0f / sqrtf((float)HD);
  for (long i = 0; i < S; i++) {
    const float *q = a->qkv + qkv_off(a, b, i, 0, h);
    for (long j = 0; j < S; j++) row[j] = 0;
    for (long d = 0; d < HD; d++) {
      float qd = q[d] * scale;
      const float *k = kt + d * S;
      for (long j = 0; j < S; j++) row[j] += qd * k[j];
    }
    float m = row[0];
    for (long j = 1; j < S; j++) m = row[j] > m ? row[j] : m;
    float sum = 0;
    for (long j = 0; j < S; j++) sum += row[j] = hrm_expf(row[j] - m);
    float inv = 1.0f / sum;
    float *p = a->probs + ((b * a->NH + h) * S + i) * S;
    float *o = a->out + (b * S + i) * a->NH * HD + h * HD;
    for (long d = 0; d < HD; d++) o[d] = 0;
    for (long j = 0; j < S; j++) {
      p[j] = row[j] * inv;
      axpy(HD, p[j], v + j * HD, o);
    }
  }
}

void hrm_attention_fwd(float *out, float *probs, const float *qkv, long B, long S, long NH, long HD) {
  attn_args a = {out, probs, NULL, qkv, NULL, NULL, B, S, NH, HD};
  hrm_parallel_for((int)(B * NH), attn_fwd_task, &a);
}

/* dv = Pᵀ dO; dP = dO vᵀ; dZ = P ∘ (dP - rowsum(P ∘ dP)); dq = scale dZ k; dk = scale dZᵀ q. */
HRM_CLONES static void attn_bwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH;
  /* k[S][HD], v[S][HD], dk[S][HD], dv[S][HD], dz[S] */
  float *k = hrm_thread_scratch(HRM_SCRATCH_ATTN_BWD, th, sizeof(float) * (4 * S * HD + S));
  float *v = k + S * HD, *dk = v + S * HD, *dv = dk + S * HD, *dz = dv + S * HD;
  for (long j = 0; j < S; j++) {
    memcpy(k + j * HD, a->qkv + qkv_off(a, b, j, 1, h), HD * sizeof(float));
    memcpy(v + j * HD, a->qkv + qkv_off(a, b, j, 2, h), HD * sizeof(float));
  }
  memset(dk, 0, 2 * S * HD * sizeof(float));
  float scale = 1.0f / sqrtf((float)HD);
  for (long i = 0; i < S; i++) {
    const float *p = a->cprobs + ((b * a->NH + h) * S + i) * S;
    const float *go = a->dout + (b * S + i) * a->NH * HD + h * HD;
    const float *q = a->qkv + qkv_off(a, b, i, 0, h);
    float *dq = a->dqkv + qkv_off(a, b, i, 0, h);
    float rowdot = 0;
    for (long j = 0; j < S; j++) {
      float s = hrm_dot16(go, v + j * HD, HD);
      dz[j] = s;
      rowdot += p[j] * s;
    }
    for (long d = 0; d < HD; d++) dq[d] = 0;
    for (long j = 0; j < S; j++) {
      float g = p[j] * (dz[j] - rowdot) * scale;
      axpy(HD, g, k + j * HD, dq);
      axpy(HD, g, q, dk + j * HD);
      axpy(HD, p[j], go, dv + j * HD);
    }
  }
  for (long j = 0; j < S; j++) {
    memcpy(a->dqkv + qkv_off(a, b, j, 1, h), dk + j * HD, HD * sizeof(float));
    memcpy(a->dqkv + qkv_off(a, b, j, 2, h), dv + j * HD, HD * sizeof(float));
  }
}

void hrm_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *probs, long B, long S,
                       long NH, long HD) {
  attn_args a = {NULL, NULL, dqkv, qkv, dout, probs, B, S, NH, HD};
  hrm_parallel_for((int)(B * NH), attn_bwd_task, &a);
}
