/*
 * The fused HRM kernels in float32, forward and backward, with the semantics of src/kernels/api.ts (the ref
 * TypeScript kernels are their definition). Callers validate sizes and indices; these functions trust them.
 * Loss buffers are float32 or float64 (`*_f64` flag); stablemax is computed in float64 as officially.
 */
#ifndef HRM_KERNELS_H
#define HRM_KERNELS_H

#include <stdint.h>

void hrm_embedding_fwd(float *out, const int32_t *ids, const float *table, long T, long D);
void hrm_embedding_bwd(float *dtable, const float *dout, const int32_t *ids, long T, long D);
void hrm_rmsnorm_fwd(float *out, float *rstd, const float *inp, long T, long D, float eps);
/* Rows t0..t1 of hrm_rmsnorm_fwd, on the calling thread: shared with the GEMM's fused norm (gemm.c), so the two
 * give the same bits. out may be inp. */
void hrm_rmsnorm_rows(float *out, float *rstd, const float *inp, long t0, long t1, long D, float eps);
void hrm_rmsnorm_bwd(float *dinp, const float *dout, const float *out, const float *rstd, long T, long D);
/* sign +1: forward rotation; -1: its transpose (backward). */
void hrm_rope(float *out, const float *inp, const float *cos, const float *sin, long T, long W, long S, long NR,
              long HD, int sign);
void hrm_attention_fwd(float *out, float *probs, const float *qkv, long B, long S, long NH, long HD);
/* hrm_attention_fwd (no-grad: nothing saved) of the qkv that hrm_rope(sign +1, W = 3*NH*HD, NR = 2*NH) would
 * make, without writing it: each head's queries and keys are rotated as they are read. */
void hrm_attention_rope_fwd(float *out, const float *qkv, const float *cos, const float *sin, long B, long S,
                            long NH, long HD);

/* One RoPE head: y = x rotated (sign > 0) or rotated back, cos/sin of its position. restrict, so the loops
 * vectorise: a caller rotating in place passes a copy of x (with y == x the compiler's overlap check would
 * send it to scalar code). Inline, so every HRM_CLONES caller gets it built for its ISA. */
static inline void hrm_rope_head(float *restrict y, const float *restrict x, const float *restrict cs,
                                 const float *restrict sn, long half, int sign) {
  if (sign > 0) {
    for (long i = 0; i < half; i++) {
      float x1 = x[i], x2 = x[half + i];
      y[i] = x1 * cs[i] - x2 * sn[i];
      y[half + i] = x2 * cs[half + i] + x1 * sn[half + i];
    }
  } else {
    for (long i = 0; i < half; i++) {
      float x1 = x[i], x2 = x[half + i];
      y[i] = x1 * cs[i] + x2 * sn[half + i];
      y[half + i] = x2 * cs[half + i] - x1 * sn[i];
    }
  }
}
void hrm_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *probs, long B, long S,
                       long NH, long HD);
void hrm_swiglu_fwd(float *out, const float *gate_up, long T, long F);
/* silu(g) * u over rows of n (row strides ldy, ldg, ldu; y may be g): swigluForward's rows, and the fused
 * gate_up product's tile epilogue. */
void hrm_swiglu_rows(float *y, long ldy, const float *g, long ldg, const float *u, long ldu, long rows, long n);
/* swigluBackward; act non-NULL: silu(gate) * up [T, F] written too (the same bits as hrm_swiglu_fwd). */
void hrm_swiglu_bwd(float *dgate_up, float *act, const float *dout, const float *gate_up, long T, long F);
void hrm_add(float *out, const float *a, const float *b, float alpha, float beta, long n);
/* out[b] = inp[b] transposed, for B matrices inp[b] [R, C] (out[b] [C, R]); out must not overlap inp. */
void hrm_transpose_batched(float *out, const float *inp, long B, long R, long C);
void hrm_add_bwd(float *da, float *db, const float *dout, float alpha, float beta, long n);
/* kind 0: softmax (float32 math, as official), 1: stablemax (float64 math). */
void hrm_ce_fwd(int kind, void *losses, int losses_f64, const float *logits, const int32_t *labels, long T, long V,
                int ignore);
void hrm_ce_bwd(int kind, float *dlogits, const void *dlosses, int dlosses_f64, const float *logits,
                const int32_t *labels, long T, long V, int ignore);
void hrm_bce_fwd(float *losses, const float *x, const float *y, long n);
void hrm_bce_bwd(float *dx, const float *dlosses, const float *x, const float *y, long n);
/* AdamATan2 element update (see src/kernels/api.ts adamAtan2). */
void hrm_adam_atan2(float *param, const float *grad, float *m, float *v, long n, double lr, double beta1,
                    double beta2, double wd, double step_size, double bc2);

#endif
