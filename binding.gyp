{
  "targets": [
    {
      "target_name": "electra_native",
      "sources": ["native/addon.cc", "native/kernels.cc", "native/naive.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-Wall", "-Wno-unknown-pragmas",
                    "-I/usr/include/<!(gcc -print-multiarch)/openblas-openmp"],
      "ldflags": ["-fopenmp",
                  "-L/usr/lib/<!(gcc -print-multiarch)/openblas-openmp",
                  "-Wl,-rpath,/usr/lib/<!(gcc -print-multiarch)/openblas-openmp"],
      "libraries": ["-lopenblas", "-lgomp"]
    }
  ]
}
