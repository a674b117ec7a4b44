{
  "targets": [
    {
      "target_name": "hrm_native",
      "sources": [
        "csrc/act_x86.c",
        "csrc/addon.c",
        "csrc/attention.c",
        "csrc/cpu.c",
        "csrc/gemm.c",
        "csrc/gemm_ukr.c",
        "csrc/kernels.c",
        "csrc/losses.c",
        "csrc/memory.c",
        "csrc/optim.c",
        "csrc/pack_x86.c",
        "csrc/parallel_range.c",
        "csrc/peak.c",
        "csrc/small_gemm_x86.c",
        "csrc/softmax_x86.c",
        "csrc/threadpool.c"
      ],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=fast", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "libraries": ["-lpthread", "-lm"]
    }
  ]
}
