# Native kernels (docs/kernels-native.md). Built by `node-gyp rebuild` from scripts/build-native.mjs during
# `npm install`; a failed build leaves the TypeScript kernels in use. The AVX2, AVX-512 and AMX microkernels
# are separate static libraries so that only they get -mavx2 / -mavx512f / -mamx-*: the rest is portable
# x86-64 (or any other architecture), and the microkernel is chosen at run time with __builtin_cpu_supports
# (AMX: cpuid and the kernel's permission, gemm_amx.cc). (GCC 12's
# _mm512_reduce_add_ps trips -Wuninitialized inside its own header, hence the two -Wno flags.)
{
  "target_defaults": {
    "cflags!": ["-fno-exceptions", "-O2", "-O0"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
    "cflags": ["-O3", "-fPIC", "-fno-math-errno", "-fno-trapping-math"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-fopenmp-simd"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CFLAGS": ["-O3", "-fopenmp-simd"]
    },
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "lgrpo_native",
      "sources": ["native/addon.cc", "native/pool.cc", "native/gemm.cc", "native/kernels.cc", "native/kernels_base.cc"],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["lgrpo_avx2", "lgrpo_avx512", "lgrpo_amx"],
          "defines": ["LG_HAVE_X86_KERNELS"]
        }],
        ["OS=='linux'", { "libraries": ["-lpthread"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "lgrpo_avx2",
          "type": "static_library",
          "sources": ["native/gemm_avx2.cc", "native/kernels_avx2.cc"],
          "cflags": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-mavx2", "-mfma"] }
        },
        {
          "target_name": "lgrpo_avx512",
          "type": "static_library",
          "sources": ["native/gemm_avx512.cc"],
          "cflags": ["-mavx512f", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-mavx512f"] }
        },
        {
          "target_name": "lgrpo_amx",
          "type": "static_library",
          "sources": ["native/gemm_amx.cc"],
          "cflags": ["-mavx512f", "-mavx512bw", "-mavx512bf16", "-mamx-tile", "-mamx-bf16", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512bf16", "-mamx-tile", "-mamx-bf16"] }
        }
      ]
    }]
  ]
}
