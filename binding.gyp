{
  # electra_mpi (native/mpi.cc), for data-parallel training under mpirun, is built only where Open MPI's mpicc
  # is (bash setup.sh --mpi installs it); electra_native never links libmpi
  "variables": {"electra_mpi%": "<!(command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0)"},
  "conditions": [
    ["electra_mpi==1", {
      "targets": [{
        "target_name": "electra_mpi",
        "sources": ["native/mpi.cc"],
        "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
        "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "OMPI_SKIP_MPICXX"],
        "cflags!": ["-fno-exceptions"],
        "cflags_cc!": ["-fno-exceptions"],
        "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "<!@(mpicc --showme:compile)"],
        # --no-as-needed: libmpi stays a dependency of the addon, loaded with it (Open MPI's plugins need its symbols)
        "ldflags": ["-Wl,--no-as-needed", "<!@(mpicc --showme:link)"]
      }]
    }]
  ],
  "targets": [
    {
      "target_name": "electra_native",
      "sources": ["native/addon.cc", "native/kernels.cc", "native/naive.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      # -fno-trapping-math: without it GCC will not if-convert the selects in native/kernels.cc's fexp/ferf, so the
      # GELU, softmax and cross-entropy loops stay scalar ("control flow in loop"). It permits no reassociation: only
      # that a float operation may be executed speculatively (we never read FP flags). Elementwise results are
      # unchanged; the sums those loops carry as `omp simd reduction` now run in vector lanes (other last bits).
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-trapping-math", "-fexceptions", "-Wall", "-Wno-unknown-pragmas",
                    "-I/usr/include/<!(gcc -print-multiarch)/openblas-openmp"],
      "ldflags": ["-fopenmp",
                  "-L/usr/lib/<!(gcc -print-multiarch)/openblas-openmp",
                  "-Wl,-rpath,/usr/lib/<!(gcc -print-multiarch)/openblas-openmp"],
      "libraries": ["-lopenblas", "-lgomp"]
    }
  ]
}
