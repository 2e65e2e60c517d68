// Fuzzes the .npy reader (header dict parser, size checks): any input must give an array or
// an InputError, never a crash or an allocation driven by an unchecked header.
#include "flotilla/datasets.h"
#include "flotilla/datasets/npy.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = flotilla::fuzz::input_file(data, size, ".npy");
  try {
    const flotilla::NpyArray a = flotilla::read_npy(path);
    (void)a;
  } catch (const flotilla::InputError&) {
  }
  try {  // the same bytes as an edge array
    flotilla::EdgeStreamOptions o;
    o.format = flotilla::GraphFormat::Npy;
    auto s = flotilla::open_edge_stream(path, o);
    if (s->info().num_nodes <= (1u << 20)) flotilla::build_csr(*s);
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
