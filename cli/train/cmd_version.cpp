#include <mpi.h>
#include <zlib.h>
#include <metis.h>
#include <boost/version.hpp>
#include <cstdio>

#include "../commands.h"
#include "flotilla/comm.h"
#include "flotilla/models.h"

namespace flotilla::cli {

int cmd_version(int, char**) {
  const TorchRuntime rt = torch_runtime();
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi_version, &len);
  std::string mpi(mpi_version, static_cast<std::size_t>(len));
  if (auto nl = mpi.find_first_of(",\n"); nl != std::string::npos) mpi.resize(nl);
  std::printf("flotilla %s\n", FLOTILLA_VERSION);
  std::printf("  libtorch  %s (CUDA available: %s, devices: %d)\n", rt.version.c_str(),
              rt.cuda_available ? "yes" : "no", rt.cuda_devices);
  std::printf("  mpi       %s\n", mpi.c_str());
  std::printf("  metis     %d.%d.%d (idx %d-bit)\n", METIS_VER_MAJOR, METIS_VER_MINOR, METIS_VER_SUBMINOR, IDXTYPEWIDTH);
  std::printf("  boost     %d.%d.%d\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
  std::printf("  zlib      %s\n", zlibVersion());
  std::printf("  nccl path %s\n", nccl_compiled() ? "compiled" : "not compiled (FLOTILLA_CUDA=OFF)");
  return kExitOk;
}

}  // namespace flotilla::cli
