#include <gtest/gtest.h>

#include <set>

#include "flotilla/sampler.h"

using namespace flotilla;

TEST(UniformSampling, DistinctInRangeAndDeterministic) {
  for (std::int64_t k : {1, 5, 10, 100, 500}) {
    Rng a(42), b(42);
    std::vector<std::uint64_t> x, y;
    sample_without_replacement(1000, k, a, x);
    sample_without_replacement(1000, k, b, y);
    EXPECT_EQ(x, y);
    ASSERT_EQ(x.size(), static_cast<std::size_t>(k));
    std::set<std::uint64_t> s(x.begin(), x.end());
    EXPECT_EQ(s.size(), x.size());
    EXPECT_LT(*s.rbegin(), 1000u);
  }
}

TEST(UniformSampling, AllWhenFanoutCoversDegree) {
  Rng r(1);
  std::vector<std::uint64_t> out;
  sample_without_replacement(4, -1, r, out);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{0, 1, 2, 3}));
  out.clear();
  sample_without_replacement(4, 7, r, out);
  EXPECT_EQ(out.size(), 4u);
}

TEST(UniformSampling, RoughlyUniform) {
  // Each of 10 items drawn with k=3 should appear ~30% of the time over many trials.
  Rng r(7);
  std::vector<int> hits(10, 0);
  const int trials = 20000;
  for (int t = 0; t < trials; ++t) {
    std::vector<std::uint64_t> out;
    sample_without_replacement(10, 3, r, out);
    for (auto i : out) ++hits[i];
  }
  for (int h : hits) EXPECT_NEAR(h / double(trials), 0.3, 0.02);
}
