// Fuzzes the traffic folder reader: the input, split at NUL bytes, becomes speed.csv and
// distances.csv (or adj.csv when the input's first byte is odd).
#include "flotilla/datasets.h"
#include "flotilla/datasets/traffic.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool adj = size > 0 && (data[0] & 1);
  const std::string dir = flotilla::fuzz::input_dir(data, size, "traffic",
                                                    {"speed.csv", adj ? "adj.csv" : "distances.csv"});
  try {
    const flotilla::TrafficData t = flotilla::read_traffic(dir);
    (void)t;
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
