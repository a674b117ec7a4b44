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

int hrm_cpu_bf16_dot(void) {
  static int cached = -1;
  if (cached < 0) {
    int has = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    has = __builtin_cpu_supports("avx512bf16") && hrm_cpu_isa() == HRM_ISA_AVX512;
#endif
    const char *env = getenv("HRM_ISA");
    if (env && strcmp(env, "avx512") == 0) has = 0;
    cached = has;
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
