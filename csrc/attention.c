/*
 * Non-causal multi-head softmax attention over the packed qkv layout [B,S,3,NH,HD], one pool task per
 * (batch row, head). Each task copies its head's q, k, v (and dO) into zero-padded per-thread scratch and runs
 * the products (q kᵀ, P v; backward dO vᵀ, dZ k, dZᵀ q, Pᵀ dO) as register-blocked small GEMMs
 * (small_gemm.h). Writes the [S,S] probabilities out when the caller saves them for the backward.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"
#include "small_gemm.h"
#include "threadpool.h"

typedef struct {
  float *out, *probs, *dqkv;
  const float *qkv, *dout, *cprobs;
  long B, S, NH, HD;
} attn_args;

/* Row (b, s) part (0 q, 1 k, 2 v), head h of the packed qkv buffer. */
static inline long qkv_off(const attn_args *a, long b, long s, int part, long h) {
  return ((b * a->S + s) * 3 + part) * a->NH * a->HD + h * a->HD;
}

static inline long pad16(long n) { return (n + 15) & ~15L; }

/*
 * Per (b, h): scores = (scale q) kᵀ and out = P v as register-blocked small GEMMs over zero-padded copies in
 * per-thread scratch (S and HD rounded up to 16), softmax in between; P is written out when probs is given.
 */
HRM_CLONES static void attn_fwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH, Sp = pad16(S), HDp = pad16(HD);
  size_t floats = S * HD + HD * Sp + Sp * HDp + S * Sp + S * HDp;
  float *qs = hrm_thread_scratch(HRM_SCRATCH_ATTN_FWD, th, sizeof(float) * floats); /* qs[S][HD] */
  float *kt = qs + S * HD, *v = kt + HD * Sp, *sc = v + Sp * HDp, *o = sc + S * Sp; /* kt[HD][Sp] v[Sp][HDp] */
  float scale = 1.0f / sqrtf((float)HD);
  memset(kt, 0, sizeof(float) * (HD * Sp + Sp * HDp));
  for (long j = 0; j < S; j++) {
    const float *qj = a->qkv + qkv_off(a, b, j, 0, h), *kj = a->qkv + qkv_off(a, b, j, 1, h);
    for (long d = 0; d < HD; d++) qs[j * HD + d] = qj[d] * scale;
    for (long d = 0; d < HD; d++) kt[d * Sp + j] = kj[d];
    memcpy(v + j * HDp, a->qkv + qkv_off(a, b, j, 2, h), HD * sizeof(float));
  }
  hrm_small_gemm(S, Sp, HD, qs, HD, kt, Sp, sc, Sp);
  for (long i = 0; i < S; i++) {
    float *row = sc + i * Sp;
    float m = hrm_max16(row, S);
    for (long j = 0; j < S; j++) row[j] = hrm_expf(row[j] - m);
    float inv = 1.0f / hrm_sum16(row, S);
    if (a->probs) {
      float *p = a->probs + ((b * a->NH + h) * S + i) * S;
      for (long j = 0; j < S; j++) p[j] = row[j] = row[j] * inv;
    } else {
      for (long j = 0; j < S; j++) row[j] *= inv;
    }
    for (long j = S; j < Sp; j++) row[j] = 0; /* padded keys take no weight */
  }
  hrm_small_gemm(S, HDp, Sp, sc, Sp, v, HDp, o, HDp);
  for (long i = 0; i < S; i++) memcpy(a->out + (b * S + i) * a->NH * HD + h * HD, o + i * HDp, HD * sizeof(float));
}

void hrm_attention_fwd(float *out, float *probs, const float *qkv, long B, long S, long NH, long HD) {
  attn_args a = {out, probs, NULL, qkv, NULL, NULL, B, S, NH, HD};
  hrm_parallel_for((int)(B * NH), attn_fwd_task, &a);
}

/*
 * dP = dO vᵀ; dZ = scale P ∘ (dP - rowsum(P ∘ dP)); dq = dZ k; dk = dZᵀ q; dv = Pᵀ dO. The four products run
 * as register-blocked small GEMMs over zero-padded copies (S, HD rounded up to 16) in per-thread scratch.
 */
HRM_CLONES static void attn_bwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH, Sp = pad16(S), HDp = pad16(HD);
  size_t floats = 3 * Sp * HDp + HD * Sp + 3 * S * Sp + S * HDp;
  /* go, k, q [Sp][HDp]; vt [HD][Sp]; dz, dzt, pt [S][Sp]; res [S][HDp] */
  float *go = hrm_thread_scratch(HRM_SCRATCH_ATTN_BWD, th, sizeof(float) * floats);
  float *k = go + Sp * HDp, *q = k + Sp * HDp, *vt = q + Sp * HDp, *dz = vt + HD * Sp, *dzt = dz + S * Sp;
  float *pt = dzt + S * Sp, *res = pt + S * Sp;
  memset(go, 0, sizeof(float) * (3 * Sp * HDp + HD * Sp));
  for (long j = 0; j < S; j++) {
    memcpy(go + j * HDp, a->dout + (b * S + j) * a->NH * HD + h * HD, HD * sizeof(float));
    memcpy(k + j * HDp, a->qkv + qkv_off(a, b, j, 1, h), HD * sizeof(float));
    memcpy(q + j * HDp, a->qkv + qkv_off(a, b, j, 0, h), HD * sizeof(float));
    const float *vj = a->qkv + qkv_off(a, b, j, 2, h);
    for (long d = 0; d < HD; d++) vt[d * Sp + j] = vj[d];
  }
  hrm_small_gemm(S, Sp, HD, go, HDp, vt, Sp, dz, Sp); /* dP */
  float scale = 1.0f / sqrtf((float)HD);
  const float *P = a->cprobs + (b * a->NH + h) * S * S;
  for (long i = 0; i < S; i++) {
    const float *p = P + i * S;
    float *row = dz + i * Sp;
    float rowdot = hrm_dot16(p, row, S);
    for (long j = 0; j < S; j++) row[j] = p[j] * (row[j] - rowdot) * scale;
    for (long j = S; j < Sp; j++) row[j] = 0;
  }
  /* Transposes for dk = dZᵀ q and dv = Pᵀ dO (the padded i columns stay zero). */
  for (long j = 0; j < S; j++) {
    for (long i = 0; i < S; i++) {
      dzt[j * Sp + i] = dz[i * Sp + j];
      pt[j * Sp + i] = P[i * S + j];
    }
    for (long i = S; i < Sp; i++) dzt[j * Sp + i] = pt[j * Sp + i] = 0;
  }
  hrm_small_gemm(S, HDp, Sp, dz, Sp, k, HDp, res, HDp); /* dq */
  for (long i = 0; i < S; i++) memcpy(a->dqkv + qkv_off(a, b, i, 0, h), res + i * HDp, HD * sizeof(float));
  hrm_small_gemm(S, HDp, Sp, dzt, Sp, q, HDp, res, HDp); /* dk */
  for (long j = 0; j < S; j++) memcpy(a->dqkv + qkv_off(a, b, j, 1, h), res + j * HDp, HD * sizeof(float));
  hrm_small_gemm(S, HDp, Sp, pt, Sp, go, HDp, res, HDp); /* dv */
  for (long j = 0; j < S; j++) memcpy(a->dqkv + qkv_off(a, b, j, 2, h), res + j * HDp, HD * sizeof(float));
}

void hrm_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *probs, long B, long S,
                       long NH, long HD) {
  attn_args a = {NULL, NULL, dqkv, qkv, dout, probs, B, S, NH, HD};
  hrm_parallel_for((int)(B * NH), attn_bwd_task, &a);
}
