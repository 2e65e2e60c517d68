#include <mpi.h>
#include <zlib.h>
#include <metis.h>
#include <boost/version.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "../commands.h"
#include "flotilla/comm.h"
#include "flotilla/datasets/json_writer.h"
#include "flotilla/models.h"

namespace flotilla::cli {

namespace {

struct Versions {
  std::string libtorch, mpi, metis, boost, zlib, nccl, blas, compiler;
  bool cuda_available = false;
  int cuda_devices = 0;
};

// The BLAS library this process mapped (Debian picks it through alternatives: the reference
// BLAS makes LibTorch ~25x slower than OpenBLAS, so a run records which one it had).
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.find("blas") != std::string::npos && name.find("cublas") == std::string::npos) {
      std::error_code ec;
      const auto real = std::filesystem::canonical(path, ec);
      return ec ? path : real.string();
    }
  }
  return "unknown";
}

Versions versions() {
  Versions v;
  const TorchRuntime rt = torch_runtime();
  v.libtorch = rt.version;
  v.cuda_available = rt.cuda_available;
  v.cuda_devices = rt.cuda_devices;
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi_version, &len);
  v.mpi.assign(mpi_version, static_cast<std::size_t>(len));
  if (auto nl = v.mpi.find_first_of(",\n"); nl != std::string::npos) v.mpi.resize(nl);
  v.metis = std::to_string(METIS_VER_MAJOR) + "." + std::to_string(METIS_VER_MINOR) + "." +
            std::to_string(METIS_VER_SUBMINOR) + " (idx " + std::to_string(IDXTYPEWIDTH) + "-bit)";
  v.boost = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
            std::to_string(BOOST_VERSION % 100);
  v.zlib = zlibVersion();
  v.nccl = nccl_compiled() ? "compiled" : "not compiled (FLOTILLA_CUDA=OFF)";
  v.blas = loaded_blas();
#if defined(__clang__)
  v.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  v.compiler = std::string("gcc ") + __VERSION__;
#else
  v.compiler = "unknown";
#endif
  return v;
}

}  // namespace

std::string versions_json() {
  const Versions v = versions();
  JsonWriter j;
  j.begin_object()
      .field("flotilla", FLOTILLA_VERSION)
      .field("libtorch", v.libtorch)
      .field("cuda_available", v.cuda_available)
      .field("cuda_devices", v.cuda_devices)
      .field("mpi", v.mpi)
      .field("metis", v.metis)
      .field("boost", v.boost)
      .field("zlib", v.zlib)
      .field("nccl", v.nccl)
      .field("blas", v.blas)
      .field("compiler", v.compiler)
      .end_object();
  return j.str() + "\n";
}

int cmd_version(int, char**) {
  const Versions v = versions();
  std::printf("flotilla %s\n", FLOTILLA_VERSION);
  std::printf("  libtorch  %s (CUDA available: %s, devices: %d)\n", v.libtorch.c_str(), v.cuda_available ? "yes" : "no",
              v.cuda_devices);
  std::printf("  mpi       %s\n", v.mpi.c_str());
  std::printf("  metis     %s\n", v.metis.c_str());
  std::printf("  boost     %s\n", v.boost.c_str());
  std::printf("  zlib      %s\n", v.zlib.c_str());
  std::printf("  nccl path %s\n", v.nccl.c_str());
  std::printf("  blas      %s\n", v.blas.c_str());
  std::printf("  compiler  %s\n", v.compiler.c_str());
  return kExitOk;
}

}  // namespace flotilla::cli
