#include <gtest/gtest.h>

#include "flotilla/partition.h"

using flotilla::PartitionBook;

TEST(PartitionBook, OwnerIsRangeLookup) {
  PartitionBook book({3, 0, 5, 2});
  EXPECT_EQ(book.num_parts(), 4u);
  EXPECT_EQ(book.num_nodes(), 10u);
  const unsigned expected[] = {0, 0, 0, 2, 2, 2, 2, 2, 3, 3};
  for (flotilla::VertexId v = 0; v < 10; ++v) {
    EXPECT_EQ(book.owner(v), expected[v]) << "v=" << v;
    EXPECT_EQ(book.to_global(book.owner(v), book.to_local(v)), v);
  }
  EXPECT_THROW(book.owner(10), std::out_of_range);
}

TEST(PartitionBook, RejectsNoParts) { EXPECT_THROW(PartitionBook(std::vector<std::uint64_t>{}), std::invalid_argument); }
