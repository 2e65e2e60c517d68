#include "flotilla/sampler/minibatch.h"

#include <cstring>
#include <stdexcept>

#include "flotilla/datasets/bytes.h"

namespace flotilla {

const char* phase_name(BatchPhase p) {
  switch (p) {
    case BatchPhase::Train: return "train";
    case BatchPhase::Valid: return "valid";
    case BatchPhase::Test: return "test";
  }
  return "?";
}

void validate(const MiniBatch& b, const std::string& what) {
  auto fail = [&](const std::string& m) { throw std::runtime_error(what + ": malformed mini-batch: " + m); };
  if (b.blocks.empty()) fail("no blocks");
  if (b.blocks.front().num_src != b.nodes.size()) fail("first block's sources != node count");
  if (b.blocks.back().num_dst != b.num_seeds) fail("last block's destinations != seed count");
  for (std::size_t l = 0; l < b.blocks.size(); ++l) {
    const Block& k = b.blocks[l];
    if (k.num_dst > k.num_src) fail("block " + std::to_string(l) + " has more destinations than sources");
    if (l + 1 < b.blocks.size() && b.blocks[l + 1].num_src != k.num_dst)
      fail("block " + std::to_string(l + 1) + "'s sources != block " + std::to_string(l) + "'s destinations");
    if (k.offsets.size() != static_cast<std::size_t>(k.num_dst) + 1 || k.offsets.front() != 0 ||
        k.offsets.back() != k.indices.size())
      fail("block " + std::to_string(l) + " offsets");
    for (std::size_t i = 0; i + 1 < k.offsets.size(); ++i)
      if (k.offsets[i + 1] < k.offsets[i]) fail("block " + std::to_string(l) + " offsets decrease");
    for (std::uint32_t s : k.indices)
      if (s >= k.num_src) fail("block " + std::to_string(l) + " source index out of range");
  }
}

namespace {
constexpr char kMagic[4] = {'F', 'L', 'M', 'B'};
constexpr std::uint32_t kVersion = 1;

template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  put_le<T>(out.data() + at, v);
}
template <typename T>
void put_array(std::vector<std::uint8_t>& out, const std::vector<T>& v) {
  put<std::uint64_t>(out, v.size());
  const std::size_t at = out.size();
  out.resize(at + v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * sizeof(T));  // little-endian hosts only
}

struct Reader {
  const std::uint8_t* p;
  std::size_t left;
  const std::string& what;
  void need(std::size_t n) {
    if (n > left) throw std::runtime_error(what + ": truncated mini-batch message");
  }
  template <typename T>
  T get() {
    need(sizeof(T));
    const T v = get_le<T>(p);
    p += sizeof(T);
    left -= sizeof(T);
    return v;
  }
  template <typename T>
  void get_array(std::vector<T>& v) {
    const std::uint64_t n = get<std::uint64_t>();
    if (n > left / sizeof(T)) throw std::runtime_error(what + ": mini-batch array count exceeds the message");
    v.resize(n);
    if (n) std::memcpy(v.data(), p, n * sizeof(T));
    p += n * sizeof(T);
    left -= n * sizeof(T);
  }
};
}  // namespace

void encode(const MiniBatch& b, std::vector<std::uint8_t>& out) {
  out.insert(out.end(), kMagic, kMagic + 4);
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, b.id.epoch);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(b.id.phase));
  put<std::uint64_t>(out, b.id.index);
  put<std::uint32_t>(out, b.num_seeds);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(b.blocks.size()));
  put_array(out, b.nodes);
  for (const Block& k : b.blocks) {
    put<std::uint32_t>(out, k.num_src);
    put<std::uint32_t>(out, k.num_dst);
    put_array(out, k.offsets);
    put_array(out, k.indices);
  }
}

MiniBatch decode_minibatch(const std::uint8_t* data, std::size_t size, const std::string& what) {
  Reader r{data, size, what};
  r.need(4);
  if (std::memcmp(data, kMagic, 4) != 0) throw std::runtime_error(what + ": not a mini-batch message");
  r.p += 4;
  r.left -= 4;
  if (const auto v = r.get<std::uint32_t>(); v != kVersion)
    throw std::runtime_error(what + ": mini-batch message version " + std::to_string(v));
  MiniBatch b;
  b.id.epoch = r.get<std::uint32_t>();
  const std::uint32_t phase = r.get<std::uint32_t>();
  if (phase > 2) throw std::runtime_error(what + ": bad batch phase");
  b.id.phase = static_cast<BatchPhase>(phase);
  b.id.index = r.get<std::uint64_t>();
  b.num_seeds = r.get<std::uint32_t>();
  const std::uint32_t layers = r.get<std::uint32_t>();
  if (layers == 0 || layers > 64) throw std::runtime_error(what + ": bad layer count");
  r.get_array(b.nodes);
  b.blocks.resize(layers);
  for (Block& k : b.blocks) {
    k.num_src = r.get<std::uint32_t>();
    k.num_dst = r.get<std::uint32_t>();
    r.get_array(k.offsets);
    r.get_array(k.indices);
  }
  if (r.left != 0) throw std::runtime_error(what + ": trailing bytes after the mini-batch");
  validate(b, what);
  return b;
}

}  // namespace flotilla
