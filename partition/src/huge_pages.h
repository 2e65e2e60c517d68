// Internal: transparent huge pages for the partitioner's O(n) arrays.
//
// Coarsening, contraction and refinement look up per-vertex arrays (cluster, part, cluster
// weights, the merge marks) by neighbour id: random accesses over tens to hundreds of MB.
// With 4 KiB pages nearly every such lookup misses the TLB (a page walk, two-dimensional
// under virtualisation); with 2 MiB pages the same array takes a few dozen TLB entries.
// Measured on the 2-core VM (bench/partition_scale.sh machine), random 4-byte gathers from an
// 8.4M-entry array: 14-15 ns with 4 KiB pages, 7-10 ns with huge pages; the whole partition
// of RGG 2^23 with permuted ids (1 thread, 2 runs each, other jobs running): 55.8 and 51.1 s
// of CPU without, 52.3 and 49.6 s with (the same partition). What remains is memory latency
// itself, which only locality of the lookups can remove.
//
// Kernels that leave THP to madvise (Debian's default) back only regions so advised, and
// only pages first touched after the advice: so the arrays are reserved, advised, and then
// filled. Where THP is off or unsupported the advice is a no-op.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::detail {

// Advises huge pages for the 2 MiB-aligned part of [p, p + bytes) (nothing below 4 MiB).
inline void advise_huge_pages(const void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  if (bytes < 2 * kHuge) return;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice: failure is harmless
#else
  (void)p;
  (void)bytes;
#endif
}

// v = n copies of x, in memory advised for huge pages before it is first written. An
// array already large enough is reused as it is (its pages are touched already).
template <typename T>
void assign_huge(std::vector<T>& v, std::size_t n, const T& x) {
  if (v.capacity() < n) {
    std::vector<T>().swap(v);
    v.reserve(n);
    advise_huge_pages(v.data(), n * sizeof(T));
  }
  v.assign(n, x);
}

template <typename T>
std::vector<T> huge_vector(std::size_t n, const T& x = T()) {
  std::vector<T> v;
  assign_huge(v, n, x);
  return v;
}

}  // namespace flotilla::detail
