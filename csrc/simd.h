/*
 * Portable vectorisation helpers for the fused kernels. The kernels are plain C loops written so the
 * compiler vectorises them; HRM_CLONES builds AVX-512, AVX2 and baseline copies of a hot function and picks
 * one at load time (GCC function multi-versioning). Elsewhere (clang, WASM) it is empty: same code, baseline.
 */
#ifndef HRM_SIMD_H
#define HRM_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define HRM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HRM_CLONES
#endif

/* The inputs hrm_expf (and exp_x86.h's hrm_exp16) hold x to: ln(2^-126), whose exponential is the smallest
 * normal float, and ln(FLT_MAX). The sigmoids hold their input at HRM_EXP_LO too, so 1 / (1 + exp(-x)) stays
 * normal. */
#define HRM_EXP_LO (-87.33654f)
#define HRM_EXP_HI 88.72283f

/* expf with ~2 ulp error (Cephes polynomial), branch-free so loops over it vectorise; NaN propagates,
 * inputs are clamped to the float range so -inf gives ~1e-38 rather than 0. */
static inline float hrm_expf(float x) {
  x = x < HRM_EXP_LO ? HRM_EXP_LO : x;
  x = x > HRM_EXP_HI ? HRM_EXP_HI : x;
  /* n = round(x / ln2): adding 1.5*2^23 rounds to an integer in the default rounding mode, with no libm call
   * (a floorf call would stop the loop from vectorising). |x / ln2| < 128 keeps it exact. */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/* 1 / (1 + exp(-x)), x held at -87.34 and up (as exp_x86.h's hrm_sigmoid16): the result stays a normal number
 * (>= 1.2e-38). Unheld, gates in (-88.4, -87.3) gave denormals, slow on cores without flush-to-zero, and 0
 * further down where the exponential overflows. */
static inline float hrm_sigmoidf(float x) {
  x = x < HRM_EXP_LO ? HRM_EXP_LO : x;
  return 1.0f / (1.0f + hrm_expf(-x));
}

/* Σ a[i]*b[i] with 16 lanes of partial sums: vectorises without -ffast-math, and is deterministic for a given
 * n. Inline (not cloned) so each HRM_CLONES caller gets a copy built for its own ISA. */
static inline float hrm_dot16(const float *a, const float *b, long n) {
  float acc[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; l++) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (; i < n; i++) s += a[i] * b[i];
  for (int l = 0; l < 16; l++) s += acc[l];
  return s;
}

/* max and sum of x[0..n) with 16 lanes of partials, so the loops vectorise without -ffast-math. */
static inline float hrm_max16(const float *x, long n) {
  float acc[16];
  long i = 0;
  float m = x[0];
  if (n >= 16) {
    for (int l = 0; l < 16; l++) acc[l] = x[l];
    for (i = 16; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int l = 0; l < 16; l++) m = acc[l] > m ? acc[l] : m;
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static inline float hrm_sum16(const float *x, long n) {
  float acc[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; l++) acc[l] += x[i + l];
  float s = 0;
  for (; i < n; i++) s += x[i];
  for (int l = 0; l < 16; l++) s += acc[l];
  return s;
}

#endif
