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

}  // namespace

void encode(const MiniBatch& b, std::vector<std::uint8_t>& out) {
  ByteWriter w;
  w.out.swap(out);
  w.out.insert(w.out.end(), kMagic, kMagic + 4);
  w.put<std::uint32_t>(kVersion).put<std::uint32_t>(b.id.epoch).put<std::uint32_t>(static_cast<std::uint32_t>(b.id.phase));
  w.put<std::uint64_t>(b.id.index).put<std::uint32_t>(b.num_seeds).put<std::uint32_t>(static_cast<std::uint32_t>(b.blocks.size()));
  w.array(b.nodes);
  for (const Block& k : b.blocks) w.put<std::uint32_t>(k.num_src).put<std::uint32_t>(k.num_dst).array(k.offsets).array(k.indices);
  out.swap(w.out);
}

MiniBatch decode_minibatch(const std::uint8_t* data, std::size_t size, const std::string& what) {
  ByteReader r(data, size, what);
  r.need(4);
  if (std::memcmp(data, kMagic, 4) != 0) throw std::runtime_error(what + ": not a mini-batch message");
  r.skip(4);
  if (const auto v = r.get<std::uint32_t>(); v != kVersion)
    throw std::runtime_error(what + ": mini-batch message version " + std::to_string(v));
  MiniBatch b;
  b.id.epoch = r.get<std::uint32_t>();
  const std::uint32_t phase = r.get<std::uint32_t>();
  if (phase > 2) r.fail("bad batch phase");
  b.id.phase = static_cast<BatchPhase>(phase);
  b.id.index = r.get<std::uint64_t>();
  b.num_seeds = r.get<std::uint32_t>();
  const std::uint32_t layers = r.get<std::uint32_t>();
  if (layers == 0 || layers > 64) r.fail("bad layer count");
  r.array(b.nodes);
  b.blocks.resize(layers);
  for (Block& k : b.blocks) {
    k.num_src = r.get<std::uint32_t>();
    k.num_dst = r.get<std::uint32_t>();
    r.array(k.offsets);
    r.array(k.indices);
  }
  r.done();
  validate(b, what);
  return b;
}

}  // namespace flotilla
