#include <algorithm>
#include <unordered_set>

#include "flotilla/sampler.h"

namespace flotilla {

void sample_without_replacement(std::uint64_t n, std::int64_t k, Rng& rng, std::vector<std::uint64_t>& out) {
  if (k < 0 || static_cast<std::uint64_t>(k) >= n) {
    for (std::uint64_t i = 0; i < n; ++i) out.push_back(i);
    return;
  }
  // Floyd: for j in n-k .. n-1 pick t in [0, j]; take t unless already taken, else j.
  // Small k: a linear scan of the picks beats a hash set.
  const std::size_t start = out.size();
  if (k > 64) {
    std::unordered_set<std::uint64_t> picked;
    picked.reserve(static_cast<std::size_t>(k) * 2);
    for (std::uint64_t j = n - static_cast<std::uint64_t>(k); j < n; ++j) {
      const std::uint64_t t = rng.below(j + 1);
      const std::uint64_t pick = picked.insert(t).second ? t : j;
      if (pick == j) picked.insert(j);
      out.push_back(pick);
    }
    return;
  }
  for (std::uint64_t j = n - static_cast<std::uint64_t>(k); j < n; ++j) {
    const std::uint64_t t = rng.below(j + 1);
    const bool taken = std::find(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), t) != out.end();
    out.push_back(taken ? j : t);
  }
}

}  // namespace flotilla
