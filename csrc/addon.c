/*
 * N-API binding of the native kernels. Each export takes exactly the arguments of the matching kernel in
 * src/kernels/api.ts (booleans as booleans), checks every buffer's type and length against the dims and every
 * index against its table, then calls the C kernel. A bad call throws (TypeError/RangeError naming the kernel
 * and the argument); the C code never sees an out-of-range access.
 */
#include <node_api.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "gemm.h"
#include "kernels.h"
#include "memory.h"
#include "peak.h"
#include "threadpool.h"

#define MAX_ARGS 12

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  const char *kernel;
  int failed;
} call;

static void fail(call *c, int range, const char *fmt, const char *a, double x, double y) {
  if (c->failed) return;
  char msg[256], body[200];
  snprintf(body, sizeof body, fmt, a, x, y);
  snprintf(msg, sizeof msg, "native %s: %s", c->kernel, body);
  if (range)
    napi_throw_range_error(c->env, NULL, msg);
  else
    napi_throw_type_error(c->env, NULL, msg);
  c->failed = 1;
}

static int begin(call *c, napi_env env, napi_callback_info info, const char *kernel, size_t want) {
  c->env = env;
  c->kernel = kernel;
  c->failed = 0;
  c->argc = MAX_ARGS;
  napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL);
  if (c->argc < want) fail(c, 0, "expected %s%.0f arguments, got %.0f", "", (double)want, (double)c->argc);
  return !c->failed;
}

/* A typed array argument of one of the allowed types with at least `need` elements. */
static void *typed(call *c, int i, const char *name, double need, int allow_f32, int allow_f64, int allow_i32,
                   int *is_f64) {
  if (c->failed) return NULL;
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  bool ok = false;
  napi_is_typedarray(c->env, c->argv[i], &ok);
  if (!ok) {
    fail(c, 0, "%s must be a typed array", name, 0, 0);
    return NULL;
  }
  napi_get_typedarray_info(c->env, c->argv[i], &type, &len, &data, &ab, &off);
  int good = (allow_f32 && type == napi_float32_array) || (allow_f64 && type == napi_float64_array) ||
             (allow_i32 && type == napi_int32_array);
  if (!good) {
    fail(c, 0, allow_i32 ? "%s must be an Int32Array" : "%s must be a Float32Array", name, 0, 0);
    return NULL;
  }
  if ((double)len < need) {
    fail(c, 1, "%s has %.0f elements, the dims need %.0f", name, (double)len, need);
    return NULL;
  }
  if (is_f64) *is_f64 = type == napi_float64_array;
  return data;
}
static float *f32(call *c, int i, const char *name, double need) {
  return typed(c, i, name, need, 1, 0, 0, NULL);
}
static int32_t *i32(call *c, int i, const char *name, double need) {
  return typed(c, i, name, need, 0, 0, 1, NULL);
}
static void *floating(call *c, int i, const char *name, double need, int *is_f64) {
  return typed(c, i, name, need, 1, 1, 0, is_f64);
}

static long dim(call *c, int i, const char *name) {
  if (c->failed) return 0;
  double v = -1;
  if (napi_get_value_double(c->env, c->argv[i], &v) != napi_ok || !(v >= 0) || v != (double)(long)v ||
      v > 2147483647.0)
    fail(c, 1, "dimension %s must be a non-negative integer, got %.17g", name, v, 0);
  return (long)v;
}
static double num(call *c, int i, const char *name) {
  double v = 0;
  if (!c->failed && napi_get_value_double(c->env, c->argv[i], &v) != napi_ok)
    fail(c, 0, "%s must be a number", name, 0, 0);
  return v;
}
static int flag(call *c, int i) {
  bool b = false;
  if (!c->failed && napi_get_value_bool(c->env, c->argv[i], &b) != napi_ok) {
    double v = 0;
    napi_get_value_double(c->env, c->argv[i], &v);
    b = v != 0;
  }
  return b;
}

/* Every id in [0, V); the error names the first bad one. */
static void check_ids(call *c, const int32_t *ids, long n, long V, int ignore, int use_ignore, const char *name) {
  if (c->failed) return;
  for (long t = 0; t < n; t++) {
    if (use_ignore && ids[t] == ignore) continue;
    if (ids[t] < 0 || ids[t] >= V) {
      char label[64];
      snprintf(label, sizeof label, "%s[%ld]", name, t);
      fail(c, 1, "%s = %.0f is outside [0, %.0f)", label, ids[t], (double)V);
      return;
    }
  }
}

/* Optional matmul precision argument: absent/undefined or "float32" -> 0, "bfloat16" -> 1. */
static int precision(call *c, int i) {
  if (c->failed || (size_t)i >= c->argc) return 0;
  napi_valuetype t;
  napi_typeof(c->env, c->argv[i], &t);
  if (t == napi_undefined) return 0;
  char s[16] = {0};
  size_t len = 0;
  if (t == napi_string) napi_get_value_string_utf8(c->env, c->argv[i], s, sizeof s, &len);
  if (strcmp(s, "float32") == 0) return 0;
  if (strcmp(s, "bfloat16") == 0) return 1;
  fail(c, 0, "precision must be \"float32\" or \"bfloat16\"%s", "", 0, 0);
  return 0;
}

#define BEGIN(name, n)                                 \
  call c_;                                             \
  call *c = &c_;                                       \
  if (!begin(c, env, info, name, n)) return NULL;
#define END return NULL

/* ---- GEMM / linear ---- */
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  BEGIN("matmul", 9);
  long M = dim(c, 3, "M"), N = dim(c, 4, "N"), K = dim(c, 5, "K");
  float *C = f32(c, 0, "C", (double)M * N);
  const float *A = f32(c, 1, "A", (double)M * K), *B = f32(c, 2, "B", (double)K * N);
  int ta = flag(c, 6), tb = flag(c, 7), acc = flag(c, 8), bf16 = precision(c, 9);
  if (!c->failed) hrm_gemm(ta, tb, (int)M, (int)N, (int)K, A, B, C, acc, bf16);
  END;
}

static napi_value js_linear_fwd(napi_env env, napi_callback_info info) {
  BEGIN("linearForward", 6);
  long T = dim(c, 3, "T"), I = dim(c, 4, "I"), O = dim(c, 5, "O");
  float *out = f32(c, 0, "out", (double)T * O);
  const float *inp = f32(c, 1, "inp", (double)T * I), *w = f32(c, 2, "weight", (double)O * I);
  int bf16 = precision(c, 6);
  if (!c->failed) hrm_gemm(0, 1, (int)T, (int)O, (int)I, inp, w, out, 0, bf16);
  END;
}

/* Pre-packed linear weights: a Uint8Array of linearPackedBytes(I, O, precision) bytes, a header recording who
 * packed it and for what, then hrm_pack_b's panels (op(B) = weightᵀ). A buffer packed elsewhere (ref), for
 * other dims or precision, or never packed, is rejected instead of being misread. */
typedef struct {
  char magic[8];
  int32_t I, O, bf16, kernel_nr, kernel_mr;
} packed_header;
#define PACKED_HEADER 64

static size_t packed_bytes(long I, long O, int bf16) {
  return PACKED_HEADER + hrm_packed_b_bytes((int)I, (int)O, bf16);
}

static uint8_t *packed_arg(call *c, int i, size_t need) {
  if (c->failed) return NULL;
  napi_typedarray_type type;
  size_t len, off;
  void *data;
  napi_value ab;
  bool ok = false;
  napi_is_typedarray(c->env, c->argv[i], &ok);
  if (ok) napi_get_typedarray_info(c->env, c->argv[i], &type, &len, &data, &ab, &off);
  if (!ok || type != napi_uint8_array) {
    fail(c, 0, "packed must be a Uint8Array%s", "", 0, 0);
    return NULL;
  }
  if (len < need) fail(c, 1, "packed has %.0f bytes, these dims need %.0f%s", "", (double)len, (double)need);
  return c->failed ? NULL : data;
}

static napi_value js_linear_packed_bytes(napi_env env, napi_callback_info info) {
  BEGIN("linearPackedBytes", 2);
  long I = dim(c, 0, "I"), O = dim(c, 1, "O");
  int bf16 = precision(c, 2);
  if (c->failed) return NULL;
  napi_value v;
  napi_create_double(env, (double)packed_bytes(I, O, bf16), &v);
  return v;
}

static napi_value js_pack_linear(napi_env env, napi_callback_info info) {
  BEGIN("packLinear", 4);
  long I = dim(c, 2, "I"), O = dim(c, 3, "O");
  int bf16 = precision(c, 4);
  const float *w = f32(c, 1, "weight", (double)O * I);
  uint8_t *dst = packed_arg(c, 0, packed_bytes(I, O, bf16));
  if (c->failed) return NULL;
  hrm_ukr uk = hrm_ukr_selected();
  packed_header h = {"hrm-nat", (int32_t)I, (int32_t)O, bf16, uk.nr, uk.mr};
  memset(dst, 0, PACKED_HEADER);
  memcpy(dst, &h, sizeof h);
  hrm_pack_b(dst + PACKED_HEADER, 1, (int)I, (int)O, w, bf16);
  END;
}

/* Argument i as packed weights for [O, I] at this precision: the panels, or NULL (call failed) when the bytes
 * are too few or were packed by another backend, for other dims or precision. */
static const uint8_t *packed_weights(call *c, int i, long I, long O, int bf16) {
  const uint8_t *pk = packed_arg(c, i, packed_bytes(I, O, bf16));
  if (c->failed) return NULL;
  packed_header h;
  memcpy(&h, pk, sizeof h);
  hrm_ukr uk = hrm_ukr_selected();
  if (memcmp(h.magic, "hrm-nat", 8) != 0 || h.I != I || h.O != O || h.bf16 != bf16 || h.kernel_nr != uk.nr ||
      h.kernel_mr != uk.mr) {
    fail(c, 0, "packed was not made by this backend's packLinear with these I, O and precision%s", "", 0, 0);
    return NULL;
  }
  return pk + PACKED_HEADER;
}

static napi_value js_linear_fwd_packed(napi_env env, napi_callback_info info) {
  BEGIN("linearForwardPacked", 6);
  long T = dim(c, 3, "T"), I = dim(c, 4, "I"), O = dim(c, 5, "O");
  int bf16 = precision(c, 6);
  float *out = f32(c, 0, "out", (double)T * O);
  const float *inp = f32(c, 1, "inp", (double)T * I);
  const uint8_t *pk = packed_weights(c, 2, I, O, bf16);
  if (!c->failed) hrm_gemm_prepacked((int)T, (int)O, (int)I, inp, pk, out, bf16);
  END;
}

static napi_value js_linear_residual_fwd(napi_env env, napi_callback_info info) {
  BEGIN("linearResidualForward", 7);
  long T = dim(c, 4, "T"), I = dim(c, 5, "I"), O = dim(c, 6, "O");
  float *out = f32(c, 0, "out", (double)T * O);
  const float *res = f32(c, 1, "res", (double)T * O), *inp = f32(c, 2, "inp", (double)T * I);
  const float *w = f32(c, 3, "weight", (double)O * I);
  int bf16 = precision(c, 7);
  if (!c->failed) hrm_linear_residual((int)T, (int)O, (int)I, inp, w, NULL, res, out, bf16, NULL, 0);
  END;
}

static napi_value js_linear_residual_fwd_packed(napi_env env, napi_callback_info info) {
  BEGIN("linearResidualForwardPacked", 7);
  long T = dim(c, 4, "T"), I = dim(c, 5, "I"), O = dim(c, 6, "O");
  int bf16 = precision(c, 7);
  float *out = f32(c, 0, "out", (double)T * O);
  const float *res = f32(c, 1, "res", (double)T * O), *inp = f32(c, 2, "inp", (double)T * I);
  const uint8_t *pk = packed_weights(c, 3, I, O, bf16);
  if (!c->failed) hrm_linear_residual((int)T, (int)O, (int)I, inp, NULL, pk, res, out, bf16, NULL, 0);
  END;
}

/* The residual projection followed by its RMSNorm (rstd saved), as one call. */
static napi_value js_linear_residual_rms_fwd(napi_env env, napi_callback_info info) {
  BEGIN("linearResidualRmsnormForward", 9);
  long T = dim(c, 5, "T"), I = dim(c, 6, "I"), O = dim(c, 7, "O");
  double eps = num(c, 8, "eps");
  float *out = f32(c, 0, "out", (double)T * O), *rstd = f32(c, 1, "rstd", T);
  const float *res = f32(c, 2, "res", (double)T * O), *inp = f32(c, 3, "inp", (double)T * I);
  const float *w = f32(c, 4, "weight", (double)O * I);
  int bf16 = precision(c, 9);
  if (!c->failed) hrm_linear_residual((int)T, (int)O, (int)I, inp, w, NULL, res, out, bf16, rstd, (float)eps);
  END;
}

static napi_value js_linear_residual_rms_fwd_packed(napi_env env, napi_callback_info info) {
  BEGIN("linearResidualRmsnormForwardPacked", 9);
  long T = dim(c, 5, "T"), I = dim(c, 6, "I"), O = dim(c, 7, "O");
  double eps = num(c, 8, "eps");
  int bf16 = precision(c, 9);
  float *out = f32(c, 0, "out", (double)T * O), *rstd = f32(c, 1, "rstd", T);
  const float *res = f32(c, 2, "res", (double)T * O), *inp = f32(c, 3, "inp", (double)T * I);
  const uint8_t *pk = packed_weights(c, 4, I, O, bf16);
  if (!c->failed) hrm_linear_residual((int)T, (int)O, (int)I, inp, NULL, pk, res, out, bf16, rstd, (float)eps);
  END;
}

static napi_value js_linear_swiglu_fwd(napi_env env, napi_callback_info info) {
  BEGIN("linearSwigluForward", 6);
  long T = dim(c, 3, "T"), I = dim(c, 4, "I"), F = dim(c, 5, "F");
  float *out = f32(c, 0, "out", (double)T * F);
  const float *inp = f32(c, 1, "inp", (double)T * I), *w = f32(c, 2, "weight", 2.0 * F * I);
  int bf16 = precision(c, 6);
  if (!c->failed) hrm_linear_swiglu((int)T, (int)F, (int)I, inp, w, NULL, out, NULL, bf16);
  END;
}

static napi_value js_linear_gate_up_swiglu_fwd(napi_env env, napi_callback_info info) {
  BEGIN("linearGateUpSwigluForward", 7);
  long T = dim(c, 4, "T"), I = dim(c, 5, "I"), F = dim(c, 6, "F");
  float *out = f32(c, 0, "out", (double)T * F), *gu = f32(c, 1, "gateUp", 2.0 * T * F);
  const float *inp = f32(c, 2, "inp", (double)T * I), *w = f32(c, 3, "weight", 2.0 * F * I);
  int bf16 = precision(c, 7);
  if (!c->failed) hrm_linear_swiglu((int)T, (int)F, (int)I, inp, w, NULL, out, gu, bf16);
  END;
}

static napi_value js_linear_swiglu_fwd_packed(napi_env env, napi_callback_info info) {
  BEGIN("linearSwigluForwardPacked", 6);
  long T = dim(c, 3, "T"), I = dim(c, 4, "I"), F = dim(c, 5, "F");
  int bf16 = precision(c, 6);
  float *out = f32(c, 0, "out", (double)T * F);
  const float *inp = f32(c, 1, "inp", (double)T * I);
  const uint8_t *pk = packed_weights(c, 2, I, 2 * F, bf16);
  if (!c->failed) hrm_linear_swiglu((int)T, (int)F, (int)I, inp, NULL, pk, out, NULL, bf16);
  END;
}

static napi_value js_linear_bwd(napi_env env, napi_callback_info info) {
  BEGIN("linearBackward", 8);
  long T = dim(c, 5, "T"), I = dim(c, 6, "I"), O = dim(c, 7, "O");
  float *dinp = f32(c, 0, "dinp", (double)T * I), *dw = f32(c, 1, "dweight", (double)O * I);
  const float *dout = f32(c, 2, "dout", (double)T * O), *inp = f32(c, 3, "inp", (double)T * I);
  const float *w = f32(c, 4, "weight", (double)O * I);
  int bf16 = precision(c, 8);
  if (!c->failed) {
    hrm_gemm(0, 0, (int)T, (int)I, (int)O, dout, w, dinp, 0, bf16);
    hrm_gemm(1, 0, (int)O, (int)I, (int)T, dout, inp, dw, 1, bf16);
  }
  END;
}

/* ---- embedding ---- */
static napi_value js_emb_fwd(napi_env env, napi_callback_info info) {
  BEGIN("embeddingForward", 6);
  long T = dim(c, 3, "T"), D = dim(c, 4, "D"), V = dim(c, 5, "V");
  float *out = f32(c, 0, "out", (double)T * D);
  const int32_t *ids = i32(c, 1, "ids", T);
  const float *table = f32(c, 2, "table", (double)V * D);
  check_ids(c, ids, T, V, 0, 0, "ids");
  if (!c->failed) hrm_embedding_fwd(out, ids, table, T, D);
  END;
}

static napi_value js_emb_bwd(napi_env env, napi_callback_info info) {
  BEGIN("embeddingBackward", 6);
  long T = dim(c, 3, "T"), D = dim(c, 4, "D"), V = dim(c, 5, "V");
  float *dtable = f32(c, 0, "dtable", (double)V * D);
  const float *dout = f32(c, 1, "dout", (double)T * D);
  const int32_t *ids = i32(c, 2, "ids", T);
  check_ids(c, ids, T, V, 0, 0, "ids");
  if (!c->failed) hrm_embedding_bwd(dtable, dout, ids, T, D);
  END;
}

/* ---- RMSNorm ---- */
static napi_value js_rms_fwd(napi_env env, napi_callback_info info) {
  BEGIN("rmsnormForward", 6);
  long T = dim(c, 3, "T"), D = dim(c, 4, "D");
  double eps = num(c, 5, "eps");
  float *out = f32(c, 0, "out", (double)T * D), *rstd = f32(c, 1, "rstd", T);
  const float *inp = f32(c, 2, "inp", (double)T * D);
  if (!c->failed) hrm_rmsnorm_fwd(out, rstd, inp, T, D, (float)eps);
  END;
}

static napi_value js_rms_bwd(napi_env env, napi_callback_info info) {
  BEGIN("rmsnormBackward", 6);
  long T = dim(c, 4, "T"), D = dim(c, 5, "D");
  float *dinp = f32(c, 0, "dinp", (double)T * D);
  const float *dout = f32(c, 1, "dout", (double)T * D), *out = f32(c, 2, "out", (double)T * D);
  const float *rstd = f32(c, 3, "rstd", T);
  if (!c->failed) hrm_rmsnorm_bwd(dinp, dout, out, rstd, T, D);
  END;
}

/* ---- RoPE ---- */
static napi_value rope(napi_env env, napi_callback_info info, const char *name, int sign) {
  BEGIN(name, 9);
  long T = dim(c, 4, "T"), W = dim(c, 5, "W"), S = dim(c, 6, "S"), NR = dim(c, 7, "NR"), HD = dim(c, 8, "HD");
  if (!c->failed && (NR * HD > W || HD % 2 != 0 || S < 1))
    fail(c, 1, "need NR*HD <= W, even HD and S >= 1 (NR*HD = %.0f, W = %.0f)", "", (double)(NR * HD), (double)W);
  float *out = f32(c, 0, sign > 0 ? "out" : "dinp", (double)T * W);
  const float *inp = f32(c, 1, sign > 0 ? "inp" : "dout", (double)T * W);
  double tab = (double)(T < S ? T : S) * HD;
  const float *cs = f32(c, 2, "cos", tab), *sn = f32(c, 3, "sin", tab);
  if (!c->failed) hrm_rope(out, inp, cs, sn, T, W, S, NR, HD, sign);
  END;
}
static napi_value js_rope_fwd(napi_env env, napi_callback_info info) { return rope(env, info, "ropeForward", 1); }
static napi_value js_rope_bwd(napi_env env, napi_callback_info info) { return rope(env, info, "ropeBackward", -1); }

/* ---- attention ---- */
static napi_value js_attn_rope_fwd(napi_env env, napi_callback_info info) {
  BEGIN("attentionRopeForward", 8);
  long B = dim(c, 4, "B"), S = dim(c, 5, "S"), NH = dim(c, 6, "NH"), HD = dim(c, 7, "HD");
  if (!c->failed && HD % 2 != 0) fail(c, 1, "need an even HD%s, got %.0f", "", (double)HD, 0);
  double tok = (double)B * S * NH * HD;
  float *out = f32(c, 0, "out", tok);
  const float *qkv = f32(c, 1, "qkv", 3 * tok);
  const float *cs = f32(c, 2, "cos", (double)S * HD), *sn = f32(c, 3, "sin", (double)S * HD);
  if (!c->failed) hrm_attention_rope_fwd(out, qkv, cs, sn, B, S, NH, HD);
  END;
}

static napi_value js_attn_fwd(napi_env env, napi_callback_info info) {
  BEGIN("attentionForward", 7);
  long B = dim(c, 3, "B"), S = dim(c, 4, "S"), NH = dim(c, 5, "NH"), HD = dim(c, 6, "HD");
  double tok = (double)B * S * NH * HD;
  /* A zero-length probs: no-grad forward, nothing saved (NULL). */
  size_t plen = 0;
  if (!c->failed) napi_get_typedarray_info(env, c->argv[1], NULL, &plen, NULL, NULL, NULL);
  float *out = f32(c, 0, "out", tok), *probs = f32(c, 1, "probs", plen ? (double)B * NH * S * S : 0);
  const float *qkv = f32(c, 2, "qkv", 3 * tok);
  if (!c->failed) hrm_attention_fwd(out, plen ? probs : NULL, qkv, B, S, NH, HD);
  END;
}

static napi_value js_attn_bwd(napi_env env, napi_callback_info info) {
  BEGIN("attentionBackward", 8);
  long B = dim(c, 4, "B"), S = dim(c, 5, "S"), NH = dim(c, 6, "NH"), HD = dim(c, 7, "HD");
  double tok = (double)B * S * NH * HD;
  float *dqkv = f32(c, 0, "dqkv", 3 * tok);
  const float *dout = f32(c, 1, "dout", tok), *qkv = f32(c, 2, "qkv", 3 * tok);
  const float *probs = f32(c, 3, "probs", (double)B * NH * S * S);
  if (!c->failed) hrm_attention_bwd(dqkv, dout, qkv, probs, B, S, NH, HD);
  END;
}

/* ---- SwiGLU, add ---- */
static napi_value js_swiglu_fwd(napi_env env, napi_callback_info info) {
  BEGIN("swigluForward", 4);
  long T = dim(c, 2, "T"), F = dim(c, 3, "F");
  float *out = f32(c, 0, "out", (double)T * F);
  const float *gu = f32(c, 1, "gateUp", 2.0 * T * F);
  if (!c->failed) hrm_swiglu_fwd(out, gu, T, F);
  END;
}

static napi_value js_swiglu_bwd(napi_env env, napi_callback_info info) {
  BEGIN("swigluBackward", 5);
  long T = dim(c, 3, "T"), F = dim(c, 4, "F");
  float *dgu = f32(c, 0, "dgateUp", 2.0 * T * F);
  const float *dout = f32(c, 1, "dout", (double)T * F), *gu = f32(c, 2, "gateUp", 2.0 * T * F);
  if (!c->failed) hrm_swiglu_bwd(dgu, NULL, dout, gu, T, F);
  END;
}

static napi_value js_swiglu_act_bwd(napi_env env, napi_callback_info info) {
  BEGIN("swigluActBackward", 6);
  long T = dim(c, 4, "T"), F = dim(c, 5, "F");
  float *dgu = f32(c, 0, "dgateUp", 2.0 * T * F), *act = f32(c, 1, "act", (double)T * F);
  const float *dout = f32(c, 2, "dout", (double)T * F), *gu = f32(c, 3, "gateUp", 2.0 * T * F);
  if (!c->failed) hrm_swiglu_bwd(dgu, act, dout, gu, T, F);
  END;
}

static napi_value js_add(napi_env env, napi_callback_info info) {
  BEGIN("add", 6);
  long n = dim(c, 5, "n");
  float *out = f32(c, 0, "out", n);
  const float *a = f32(c, 1, "a", n), *b = f32(c, 2, "b", n);
  double alpha = num(c, 3, "alpha"), beta = num(c, 4, "beta");
  if (!c->failed) hrm_add(out, a, b, (float)alpha, (float)beta, n);
  END;
}

static napi_value js_add_bwd(napi_env env, napi_callback_info info) {
  BEGIN("addBackward", 6);
  long n = dim(c, 5, "n");
  float *da = f32(c, 0, "da", n), *db = f32(c, 1, "db", n);
  const float *dout = f32(c, 2, "dout", n);
  double alpha = num(c, 3, "alpha"), beta = num(c, 4, "beta");
  if (!c->failed) hrm_add_bwd(da, db, dout, (float)alpha, (float)beta, n);
  END;
}

static napi_value js_transpose(napi_env env, napi_callback_info info) {
  BEGIN("transpose", 5);
  long B = dim(c, 2, "B"), R = dim(c, 3, "R"), C = dim(c, 4, "C");
  double n = (double)B * R * C;
  float *out = f32(c, 0, "out", n);
  const float *inp = f32(c, 1, "inp", n);
  if (!c->failed && n > 0 && out < inp + (long)n && inp < out + (long)n)
    fail(c, 1, "%sout and inp overlap", "", 0, 0);
  if (!c->failed) hrm_transpose_batched(out, inp, B, R, C);
  END;
}

/* ---- losses ---- */
static napi_value ce_fwd(napi_env env, napi_callback_info info, const char *name, int kind) {
  BEGIN(name, 6);
  long T = dim(c, 3, "T"), V = dim(c, 4, "V");
  int ignore = (int)num(c, 5, "ignoreLabel"), l64 = 0;
  void *losses = floating(c, 0, "losses", T, &l64);
  const float *logits = f32(c, 1, "logits", (double)T * V);
  const int32_t *labels = i32(c, 2, "labels", T);
  check_ids(c, labels, T, V, ignore, 1, "labels");
  if (!c->failed) hrm_ce_fwd(kind, losses, l64, logits, labels, T, V, ignore);
  END;
}

static napi_value ce_bwd(napi_env env, napi_callback_info info, const char *name, int kind) {
  BEGIN(name, 7);
  long T = dim(c, 4, "T"), V = dim(c, 5, "V");
  int ignore = (int)num(c, 6, "ignoreLabel"), l64 = 0;
  float *dlogits = f32(c, 0, "dlogits", (double)T * V);
  const void *dlosses = floating(c, 1, "dlosses", T, &l64);
  const float *logits = f32(c, 2, "logits", (double)T * V);
  const int32_t *labels = i32(c, 3, "labels", T);
  check_ids(c, labels, T, V, ignore, 1, "labels");
  if (!c->failed) hrm_ce_bwd(kind, dlogits, dlosses, l64, logits, labels, T, V, ignore);
  END;
}
static napi_value js_sce_fwd(napi_env env, napi_callback_info info) {
  return ce_fwd(env, info, "softmaxCrossEntropyForward", 0);
}
static napi_value js_sce_bwd(napi_env env, napi_callback_info info) {
  return ce_bwd(env, info, "softmaxCrossEntropyBackward", 0);
}
static napi_value js_stce_fwd(napi_env env, napi_callback_info info) {
  return ce_fwd(env, info, "stablemaxCrossEntropyForward", 1);
}
static napi_value js_stce_bwd(napi_env env, napi_callback_info info) {
  return ce_bwd(env, info, "stablemaxCrossEntropyBackward", 1);
}

static napi_value js_bce_fwd(napi_env env, napi_callback_info info) {
  BEGIN("bceWithLogitsForward", 4);
  long n = dim(c, 3, "n");
  float *l = f32(c, 0, "losses", n);
  const float *x = f32(c, 1, "logits", n), *y = f32(c, 2, "targets", n);
  if (!c->failed) hrm_bce_fwd(l, x, y, n);
  END;
}

static napi_value js_bce_bwd(napi_env env, napi_callback_info info) {
  BEGIN("bceWithLogitsBackward", 5);
  long n = dim(c, 4, "n");
  float *dx = f32(c, 0, "dlogits", n);
  const float *dl = f32(c, 1, "dlosses", n), *x = f32(c, 2, "logits", n), *y = f32(c, 3, "targets", n);
  if (!c->failed) hrm_bce_bwd(dx, dl, x, y, n);
  END;
}

/* ---- optimiser ---- */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  BEGIN("adamAtan2", 11);
  long n = dim(c, 4, "n");
  float *p = f32(c, 0, "param", n), *m = f32(c, 2, "m", n), *v = f32(c, 3, "v", n);
  const float *g = f32(c, 1, "grad", n);
  double lr = num(c, 5, "lr"), b1 = num(c, 6, "beta1"), b2 = num(c, 7, "beta2"), wd = num(c, 8, "weightDecay");
  double step = num(c, 9, "stepSize"), bc2 = num(c, 10, "bc2");
  if (!c->failed) hrm_adam_atan2(p, g, m, v, n, lr, b1, b2, wd, step, bc2);
  END;
}

/* ---- runtime info and control ---- */
static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, hrm_isa_name(hrm_cpu_isa()), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "isa", v);
  napi_create_string_utf8(env, hrm_ukr_selected().name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "gemmKernel", v);
  napi_get_boolean(env, hrm_cpu_bf16_dot(), &v);
  napi_set_named_property(env, obj, "bf16Dot", v);
  napi_get_boolean(env, hrm_cpu_bf16_dot_available(), &v);
  napi_set_named_property(env, obj, "bf16DotAvailable", v);
  napi_create_int32(env, hrm_num_threads(), &v);
  napi_set_named_property(env, obj, "threads", v);
  return obj;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  BEGIN("setNumThreads", 1);
  long n = dim(c, 0, "threads");
  if (!c->failed) hrm_set_num_threads((int)n);
  END;
}

/* adviseHugePages(buffer: ArrayBuffer, bytes): see hrm_advise_huge_pages; returns the offset or -1. */
static napi_value js_advise_huge(napi_env env, napi_callback_info info) {
  BEGIN("adviseHugePages", 2);
  bool is_ab = false;
  void *data = NULL;
  size_t len = 0;
  napi_is_arraybuffer(env, c->argv[0], &is_ab);
  if (!is_ab) fail(c, 0, "%sbuffer must be an ArrayBuffer", "", 0, 0);
  double need = num(c, 1, "bytes");
  if (c->failed) return NULL;
  napi_get_arraybuffer_info(env, c->argv[0], &data, &len);
  if (!(need >= 0) || need > (double)len) {
    fail(c, 1, "bytes%s = %.0f is outside [0, %.0f]", "", need, (double)len);
    return NULL;
  }
  napi_value v;
  napi_create_double(env, (double)hrm_advise_huge_pages(data, len, (size_t)need), &v);
  return v;
}

static napi_value js_fma_peak(napi_env env, napi_callback_info info) {
  BEGIN("fmaPeakGflops", 2);
  long threads = dim(c, 0, "threads");
  double seconds = num(c, 1, "seconds");
  if (c->failed) return NULL;
  napi_value v;
  napi_create_double(env, hrm_fma_peak_gflops((int)threads, seconds), &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"matmul", 0, js_matmul, 0, 0, 0, napi_default, 0},
      {"linearForward", 0, js_linear_fwd, 0, 0, 0, napi_default, 0},
      {"linearPackedBytes", 0, js_linear_packed_bytes, 0, 0, 0, napi_default, 0},
      {"packLinear", 0, js_pack_linear, 0, 0, 0, napi_default, 0},
      {"linearForwardPacked", 0, js_linear_fwd_packed, 0, 0, 0, napi_default, 0},
      {"linearResidualForward", 0, js_linear_residual_fwd, 0, 0, 0, napi_default, 0},
      {"linearResidualForwardPacked", 0, js_linear_residual_fwd_packed, 0, 0, 0, napi_default, 0},
      {"linearResidualRmsnormForward", 0, js_linear_residual_rms_fwd, 0, 0, 0, napi_default, 0},
      {"linearResidualRmsnormForwardPacked", 0, js_linear_residual_rms_fwd_packed, 0, 0, 0, napi_default, 0},
      {"linearSwigluForward", 0, js_linear_swiglu_fwd, 0, 0, 0, napi_default, 0},
      {"linearSwigluForwardPacked", 0, js_linear_swiglu_fwd_packed, 0, 0, 0, napi_default, 0},
      {"linearGateUpSwigluForward", 0, js_linear_gate_up_swiglu_fwd, 0, 0, 0, napi_default, 0},
      {"linearBackward", 0, js_linear_bwd, 0, 0, 0, napi_default, 0},
      {"embeddingForward", 0, js_emb_fwd, 0, 0, 0, napi_default, 0},
      {"embeddingBackward", 0, js_emb_bwd, 0, 0, 0, napi_default, 0},
      {"rmsnormForward", 0, js_rms_fwd, 0, 0, 0, napi_default, 0},
      {"rmsnormBackward", 0, js_rms_bwd, 0, 0, 0, napi_default, 0},
      {"ropeForward", 0, js_rope_fwd, 0, 0, 0, napi_default, 0},
      {"ropeBackward", 0, js_rope_bwd, 0, 0, 0, napi_default, 0},
      {"attentionForward", 0, js_attn_fwd, 0, 0, 0, napi_default, 0},
      {"attentionRopeForward", 0, js_attn_rope_fwd, 0, 0, 0, napi_default, 0},
      {"attentionBackward", 0, js_attn_bwd, 0, 0, 0, napi_default, 0},
      {"swigluForward", 0, js_swiglu_fwd, 0, 0, 0, napi_default, 0},
      {"swigluBackward", 0, js_swiglu_bwd, 0, 0, 0, napi_default, 0},
      {"swigluActBackward", 0, js_swiglu_act_bwd, 0, 0, 0, napi_default, 0},
      {"add", 0, js_add, 0, 0, 0, napi_default, 0},
      {"transpose", 0, js_transpose, 0, 0, 0, napi_default, 0},
      {"addBackward", 0, js_add_bwd, 0, 0, 0, napi_default, 0},
      {"softmaxCrossEntropyForward", 0, js_sce_fwd, 0, 0, 0, napi_default, 0},
      {"softmaxCrossEntropyBackward", 0, js_sce_bwd, 0, 0, 0, napi_default, 0},
      {"stablemaxCrossEntropyForward", 0, js_stce_fwd, 0, 0, 0, napi_default, 0},
      {"stablemaxCrossEntropyBackward", 0, js_stce_bwd, 0, 0, 0, napi_default, 0},
      {"bceWithLogitsForward", 0, js_bce_fwd, 0, 0, 0, napi_default, 0},
      {"bceWithLogitsBackward", 0, js_bce_bwd, 0, 0, 0, napi_default, 0},
      {"adamAtan2", 0, js_adam, 0, 0, 0, napi_default, 0},
      {"info", 0, js_info, 0, 0, 0, napi_default, 0},
      {"setNumThreads", 0, js_set_threads, 0, 0, 0, napi_default, 0},
      {"fmaPeakGflops", 0, js_fma_peak, 0, 0, 0, napi_default, 0},
      {"adviseHugePages", 0, js_advise_huge, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
