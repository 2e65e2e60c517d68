// Core index types and small value types shared by every Flotilla library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace flotilla {

// Vertex ids are 32-bit: 4,294,967,294 vertices is beyond any graph one partitioner run
// holds per-vertex state for, and halves the memory of every adjacency array. Edge counts
// and CSR offsets are 64-bit, so graphs with more than 2^32 edges work.
using VertexId = std::uint32_t;
using EdgeIndex = std::uint64_t;
inline constexpr VertexId kInvalidVertex = std::numeric_limits<VertexId>::max();
inline constexpr std::uint64_t kMaxVertices = kInvalidVertex;  // ids 0 .. kMaxVertices-1

// Non-owning view of a contiguous array (std::span is C++20; we stay on C++17 for LibTorch 1.13).
template <typename T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T* data, std::size_t size) : data_(data), size_(size) {}
  template <typename Container>
  constexpr Span(Container& c) : data_(c.data()), size_(c.size()) {}  // NOLINT(implicit)
  constexpr T* data() const { return data_; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const { return data_[i]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace flotilla
