{
  # Portable build: no -march=native. The fast kernels (native/kernels.cc) are compiled once per
  # instruction-set level, each in its own static library with its own -m flags (native/isa/), and
  # native/dispatch.cc picks one at load time by the CPU's features; the glue, the naive kernels and the
  # dispatch are built for baseline x86-64. OpenBLAS is Debian's DYNAMIC_ARCH build, which picks its own
  # kernels at run time. So one binary runs on any x86-64 CPU, and a source build and the prebuilt binary
  # (scripts/prebuild.sh) compute the same bits on a given machine.
  #
  # -fno-trapping-math: without it GCC will not if-convert the selects in native/kernels.cc's fexp/ferf, so the
  # GELU, softmax and cross-entropy loops stay scalar ("control flow in loop"). It permits no reassociation: only
  # that a float operation may be executed speculatively (we never read FP flags). Elementwise results are
  # unchanged; the sums those loops carry as `omp simd reduction` now run in vector lanes (other last bits).
  "variables": {
    "openblas_inc": "/usr/include/<!(gcc -print-multiarch)/openblas-openmp",
    "openblas_lib": "/usr/lib/<!(gcc -print-multiarch)/openblas-openmp",
    "common_cflags": ["-std=c++17", "-O3", "-fPIC", "-fopenmp", "-fno-trapping-math", "-fexceptions", "-Wall", "-Wno-unknown-pragmas"],
    # electra_mpi (native/mpi.cc), for data-parallel training under mpirun, is built only where Open MPI's mpicc
    # is (bash setup.sh --mpi installs it) and ELECTRA_NO_MPI is unset (scripts/prebuild.sh ships electra_native
    # alone); electra_native never links libmpi
    "electra_mpi%": "<!(test -z \"$ELECTRA_NO_MPI\" && command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0)"
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native", "<(openblas_inc)"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"]
  },
  "conditions": [
    ["electra_mpi==1", {
      "targets": [{
        "target_name": "electra_mpi",
        "sources": ["native/mpi.cc"],
        "defines": ["OMPI_SKIP_MPICXX"],
        "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "<!@(mpicc --showme:compile)"],
        # --no-as-needed: libmpi stays a dependency of the addon, loaded with it (Open MPI's plugins need its symbols)
        "ldflags": ["-Wl,--no-as-needed", "<!@(mpicc --showme:link)"]
      }]
    }]
  ],
  "targets": [
    {
      "target_name": "kernels_sse42",
      "type": "static_library",
      "sources": ["native/isa/kernels_sse42.cc"],
      "cflags_cc": ["<@(common_cflags)", "-msse4.2", "-mpopcnt"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["native/isa/kernels_avx2.cc"],
      "cflags_cc": ["<@(common_cflags)", "-mavx2", "-mfma", "-mf16c", "-mbmi", "-mbmi2"]
    },
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["native/isa/kernels_avx512.cc"],
      "cflags_cc": ["<@(common_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mf16c", "-mbmi", "-mbmi2"]
    },
    {
      "target_name": "electra_native",
      "sources": ["native/addon.cc", "native/naive.cc", "native/dispatch.cc"],
      "dependencies": ["kernels_sse42", "kernels_avx2", "kernels_avx512"],
      "cflags_cc": ["<@(common_cflags)"],
      # $ORIGIN first: the prebuilt package ships OpenBLAS and its runtime beside the addon; a source build
      # finds Debian's. DT_RPATH (--disable-new-dtags) rather than DT_RUNPATH, because only DT_RPATH is also
      # searched for the libraries' own dependencies (libopenblas -> libgfortran, libgomp).
      "ldflags": ["-fopenmp", "-L<(openblas_lib)", "-Wl,--disable-new-dtags", "-Wl,-rpath,'$$ORIGIN'", "-Wl,-rpath,<(openblas_lib)"],
      "libraries": ["-lopenblas", "-lgomp"]
    }
  ]
}
