/*
 * Non-causal multi-head softmax attention over the packed qkv layout [B,S,3,NH,HD], one pool task per
 * (batch row, head). The products (q kᵀ, P v; backward dO vᵀ, dZ k, dZᵀ q, Pᵀ dO) run as register-blocked small
 * GEMMs (small_gemm.h) that read q, k, v, dO and P where they lie and write out and dqkv in place; only kᵀ (vᵀ
 * in the backward) and the [S,S] scores are built in per-thread scratch (the forward's score rows padded to whole
 * lines, for its row softmax: softmax.h). Writes the probabilities out when the caller saves them for the
 * backward. The no-grad variant with RoPE also builds the head's rotated q and k rows there.
 */
#include <math.h>

#include "kernels.h"
#include "simd.h"
#include "small_gemm.h"
#include "softmax.h"
#include "threadpool.h"

typedef struct {
  float *out, *probs, *dqkv;
  const float *qkv, *dout, *cprobs;
  long B, S, NH, HD;
  const float *cos, *sin; /* non-NULL: RoPE queries and keys as they are read (hrm_attention_rope_fwd) */
} attn_args;

/* Row (b, s) part (0 q, 1 k, 2 v), head h of the packed qkv buffer. */
static inline long qkv_off(const attn_args *a, long b, long s, int part, long h) {
  return ((b * a->S + s) * 3 + part) * a->NH * a->HD + h * a->HD;
}

/* Per (b, h): scores = q kᵀ, P = softmax(scale * scores) row by row, out = P v. */
HRM_CLONES static void attn_fwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH, rq = 3 * a->NH * HD, ro = a->NH * HD;
  long rot = a->cos ? 2 * S * HD : 0, ls = hrm_score_ld(S); /* rotated q and k rows, [S][HD] each */
  float *kt = hrm_thread_scratch(HRM_SCRATCH_ATTN_FWD, th, sizeof(float) * (HD * S + S * ls + rot)); /* [HD][S] */
  float *sc = kt + HD * S; /* [S][ls] */
  float scale = 1.0f / sqrtf((float)HD);
  const float *q = a->qkv + qkv_off(a, b, 0, 0, h), *k = a->qkv + qkv_off(a, b, 0, 1, h);
  long qs = rq, ks = rq;
  if (a->cos) {
    float *qr = sc + S * ls, *kr = qr + S * HD;
    for (long s = 0; s < S; s++) {
      hrm_rope_head(qr + s * HD, q + s * rq, a->cos + s * HD, a->sin + s * HD, HD / 2, 1);
      hrm_rope_head(kr + s * HD, k + s * rq, a->cos + s * HD, a->sin + s * HD, HD / 2, 1);
    }
    q = qr, k = kr, qs = ks = HD;
  }
  hrm_transpose(kt, k, ks, S, HD);
  hrm_small_gemm(S, S, HD, q, qs, 1, kt, S, sc, ls);
  hrm_softmax_rows(sc, S, S, ls, scale, a->probs ? a->probs + (b * a->NH + h) * S * S : NULL, S);
  hrm_small_gemm(S, HD, S, sc, ls, 1, a->qkv + qkv_off(a, b, 0, 2, h), rq, a->out + b * S * ro + h * HD, ro);
}

void hrm_attention_fwd(float *out, float *probs, const float *qkv, long B, long S, long NH, long HD) {
  attn_args a = {out, probs, NULL, qkv, NULL, NULL, B, S, NH, HD, NULL, NULL};
  hrm_parallel_for((int)(B * NH), attn_fwd_task, &a);
}

/* The no-grad forward's attention with RoPE folded in: a head's rotated rows are built in scratch (2 x S x HD
 * floats, in cache) instead of the whole qkv being rotated in memory by a pass of its own first. */
void hrm_attention_rope_fwd(float *out, const float *qkv, const float *cos, const float *sin, long B, long S,
                            long NH, long HD) {
  attn_args a = {out, NULL, NULL, qkv, NULL, NULL, B, S, NH, HD, cos, sin};
  hrm_parallel_for((int)(B * NH), attn_fwd_task, &a);
}

/*
 * dP = dO vᵀ; dZ = scale P ∘ (dP - rowsum(P ∘ dP)); dq = dZ k; dk = dZᵀ q; dv = Pᵀ dO. The transposed operands
 * dZᵀ and Pᵀ are read through the small GEMM's A strides, so only vᵀ and dZ live in scratch.
 */
HRM_CLONES static void attn_bwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, b = task / a->NH, h = task % a->NH, rq = 3 * a->NH * HD, ro = a->NH * HD;
  float *vt = hrm_thread_scratch(HRM_SCRATCH_ATTN_BWD, th, sizeof(float) * (HD * S + S * S)); /* vt[HD][S] */
  float *dz = vt + HD * S;                                                                     /* dz[S][S] */
  const float *go = a->dout + b * S * ro + h * HD, *P = a->cprobs + (b * a->NH + h) * S * S;
  const float *q = a->qkv + qkv_off(a, b, 0, 0, h), *k = q + a->NH * HD;
  float scale = 1.0f / sqrtf((float)HD);
  hrm_transpose(vt, q + 2 * a->NH * HD, rq, S, HD);
  hrm_small_gemm(S, S, HD, go, ro, 1, vt, S, dz, S); /* dP */
  for (long i = 0; i < S; i++) {
    const float *p = P + i * S;
    float *row = dz + i * S;
    float rowdot = hrm_dot16(p, row, S);
    for (long j = 0; j < S; j++) row[j] = p[j] * (row[j] - rowdot) * scale;
  }
  float *dq = a->dqkv + qkv_off(a, b, 0, 0, h), *dk = dq + a->NH * HD, *dv = dk + a->NH * HD;
  hrm_small_gemm(S, HD, S, dz, S, 1, k, rq, dq, rq); /* dq = dZ k */
  hrm_small_gemm(S, HD, S, dz, 1, S, q, rq, dk, rq); /* dk = dZᵀ q */
  hrm_small_gemm(S, HD, S, P, 1, S, go, ro, dv, rq); /* dv = Pᵀ dO */
}

void hrm_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *probs, long B, long S,
                       long NH, long HD) {
  attn_args a = {NULL, NULL, dqkv, qkv, dout, probs, B, S, NH, HD, NULL, NULL};
  hrm_parallel_for((int)(B * NH), attn_bwd_task, &a);
}
