// Fuzzes the gpmetis assignment reader (read_part_file, used by `flotilla partition
// --evaluate`): byte 0 is the graph's vertex count n, byte 1 the part count k (0 = infer), the
// rest the .part file. Any input must give an assignment of n ids below k or an InputError.
#include <cstdlib>

#include "flotilla/datasets.h"
#include "flotilla/partition.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint64_t n = data[0];
  std::uint32_t k = data[1];
  const std::uint32_t asked = k;
  const std::string& path = flotilla::fuzz::input_file(data + 2, size - 2, ".part");
  try {
    const std::vector<flotilla::PartId> part = flotilla::read_part_file(path, n, &k);
    if (part.size() != n) std::abort();
    for (flotilla::PartId p : part)
      if (p >= k || (asked && k != asked)) std::abort();
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
