/* CPU detection via the compiler's cpuid helpers; HRM_ISA lowers the choice so every path can be tested. */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

static hrm_isa detect(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return HRM_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HRM_ISA_AVX2;
#endif
  return HRM_ISA_GENERIC;
}

hrm_isa hrm_cpu_isa(void) {
  static int cached = -1;
  if (cached < 0) {
    hrm_isa isa = detect();
    const char *env = getenv("HRM_ISA");
    if (env && strcmp(env, "generic") == 0) isa = HRM_ISA_GENERIC;
    if (env && strcmp(env, "avx2") == 0 && isa > HRM_ISA_AVX2) isa = HRM_ISA_AVX2;
    cached = (int)isa;
  }
  return (hrm_isa)cached;
}

int hrm_cpu_bf16_dot_available(void) {
  int has = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  has = __builtin_cpu_supports("avx512bf16") && hrm_cpu_isa() == HRM_ISA_AVX512;
#endif
  const char *env = getenv("HRM_ISA");
  return has && !(env && strcmp(env, "avx512") == 0);
}

/* Not on Intel by default: on a Sapphire Rapids-class core (AMX, AVX512_BF16; 2026-11-30) the vdpbf16ps
 * micro-kernel ran at 0.55x the float32 kernel's rate on the same in-cache product (82 vs 148 GFLOP/s, 1
 * thread), and bfloat16 training of the paper's model at 0.60x float32 (2 threads) and 0.68x (16); the float32
 * kernels on rounded values ran the same products at 0.8-1.0x. So one vdpbf16ps (64 flops) took about two
 * cycles there, where the float32 kernel issues two FMAs (64 flops) per cycle. On AMD (Zen 4/5) it is used,
 * as expected faster there; that is not measured here (HRM_BF16_DOT=0 turns it off). */
static int dot_by_default(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return !__builtin_cpu_is("intel");
#else
  return 0;
#endif
}

int hrm_cpu_bf16_dot(void) {
  static int cached = -1;
  if (cached < 0) {
    const char *env = getenv("HRM_BF16_DOT");
    int want = env && *env ? strcmp(env, "0") != 0 : dot_by_default();
    cached = want && hrm_cpu_bf16_dot_available();
  }
  return cached;
}

const char *hrm_isa_name(hrm_isa isa) {
  switch (isa) {
    case HRM_ISA_AVX512: return "avx512";
    case HRM_ISA_AVX2: return "avx2";
    default: return "generic";
  }
}
