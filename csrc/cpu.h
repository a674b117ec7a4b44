/* Run-time CPU feature detection, so one build picks the best kernels on any x86-64 (no -march=native). */
#ifndef HRM_CPU_H
#define HRM_CPU_H

typedef enum { HRM_ISA_GENERIC = 0, HRM_ISA_AVX2 = 1, HRM_ISA_AVX512 = 2 } hrm_isa;

/* Best ISA the CPU and OS support, capped by HRM_ISA=generic|avx2|avx512 when set (for testing). */
hrm_isa hrm_cpu_isa(void);
const char *hrm_isa_name(hrm_isa isa);

/* 1 when the CPU has the AVX512_BF16 dot product (vdpbf16ps) and the AVX-512 kernels are in use. */
int hrm_cpu_bf16_dot_available(void);

/* 1 when bfloat16 GEMMs use that dot product; otherwise they run the float32 kernels on rounded values (the
 * same products, summed in another order). By default only on AMD cores: on Intel ones it is slower than the
 * float32 kernels (see cpu.c). HRM_BF16_DOT=1 uses it wherever it is available, HRM_BF16_DOT=0 nowhere, and
 * HRM_ISA=avx512 (or lower) turns it off too, so either path can be tested on a CPU that has it. */
int hrm_cpu_bf16_dot(void);

#endif
