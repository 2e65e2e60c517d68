// Placeholder until the npy/traffic readers land (same session).
#include "flotilla/datasets/error.h"
#include "streams.h"
namespace flotilla::detail {
std::unique_ptr<EdgeStream> open_npy_stream(const std::string& path) { throw_file(path, "npy edge arrays: not yet supported"); }
std::unique_ptr<EdgeStream> open_traffic_stream(const std::string& dir) { throw_file(dir, "traffic graphs: not yet supported"); }
}  // namespace flotilla::detail
