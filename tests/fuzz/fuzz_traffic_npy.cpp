// Fuzzes the traffic folder reader on its other layout: sensors.csv + signal.npy (+ a fixed
// adj.csv). Bytes 0-1 (little-endian) give the length of sensors.csv, which follows; the rest
// is signal.npy. Any input must give a folder or an InputError, never a crash or an
// allocation sized by the .npy header.
#include <algorithm>
#include <fstream>

#include "flotilla/datasets.h"
#include "flotilla/datasets/traffic.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t n = std::min<std::size_t>(size - 2, data[0] | (std::size_t{data[1]} << 8));
  const std::string dir = flotilla::fuzz::input_dir(data + 2, n, "trafficnpy", {"sensors.csv"},
                                                    {{"adj.csv", "from,to,weight\n400001,400002,0.5\n400002,400001,1\n"}});
  {
    std::ofstream out(dir + "/signal.npy", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 2 + n), static_cast<std::streamsize>(size - 2 - n));
  }
  try {
    const flotilla::TrafficData t = flotilla::read_traffic(dir);
    (void)t;
    const flotilla::TrafficInfo info = flotilla::describe_traffic(dir);
    (void)info;
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
