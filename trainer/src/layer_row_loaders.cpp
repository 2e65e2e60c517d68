// Feature-loader ranks for layer-wise inference (see flotilla/trainer/layer_row_loaders.h).
// Messages (MPI_COMM_WORLD, little-endian ByteWriter framing):
//   kRowGather  trainer -> loader: u32 table, u64[] ids          (rows wanted, any order)
//   kRowReply   loader -> trainer: u64 count, u64 width, floats  (in the order asked)
//   kRowPut     trainer -> loader: u32 table, u32 first id, u64 count, u64 width, floats
//                                  (consecutive ids, inside one part)
//   kLayerDone  trainer -> loader: u32 table   (every row this trainer computes of it was put)
//   kLayerReady loader -> trainer: u32 table   (every trainer's rows of it are stored)
//   kRowsDone   trainer -> loader: nothing more from this trainer
// A trainer has at most one gather outstanding per loader, and MPI keeps each sender's
// messages in order, so a trainer's puts reach a loader before its kLayerDone.
#include "flotilla/trainer/layer_row_loaders.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "flotilla/comm/communicator.h"
#include "flotilla/datasets/bytes.h"
#include "flotilla/sampler/shard_store.h"

namespace flotilla {

namespace {

enum Tag : int { kRowGather = 41, kRowReply = 42, kRowPut = 43, kLayerDone = 44, kLayerReady = 45, kRowsDone = 46 };

std::string from(int rank, const char* what) { return std::string(what) + " from rank " + std::to_string(rank); }

class LoaderRowTransport : public LayerRowTransport {
 public:
  LoaderRowTransport(const LoaderLayout& layout, const ShardSetInfo& info, const Communicator& world,
                     const Communicator& trainers)
      : layout_(layout), book_(info.book), ep_(world), trainers_(trainers) {
    widths_[0] = info.feature_dim;
  }

  void begin_layer(int layer, std::uint64_t width) override { widths_[layer + 1] = width; }

  void gather(int table, const VertexId* ids, std::size_t count, float* out) override {
    const std::uint64_t width = widths_.at(table);
    std::map<int, std::vector<VertexId>> asked;       // loader rank -> ids
    std::map<int, std::vector<std::size_t>> where;     // loader rank -> positions in out
    for (std::size_t i = 0; i < count; ++i) {
      const int loader = layout_.loader_rank_of_part(book_.owner(ids[i]));
      asked[loader].push_back(ids[i]);
      where[loader].push_back(i);
    }
    for (auto& [loader, list] : asked) {
      ByteWriter w;
      w.put<std::uint32_t>(static_cast<std::uint32_t>(table)).array(list);
      ep_.send(loader, kRowGather, std::move(w.out));
    }
    for (auto& [loader, list] : asked) {
      const Message m = ep_.receive(loader, kRowReply);
      ByteReader r(m.bytes.data(), m.bytes.size(), from(loader, "rows"));
      const std::uint64_t n = r.get<std::uint64_t>(), w = r.get<std::uint64_t>();
      if (n != list.size() || w != width || r.left() != n * w * sizeof(float)) r.fail("row count or width");
      const auto& pos = where[loader];
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(out + pos[i] * width, r.data() + i * w * sizeof(float), w * sizeof(float));
    }
  }

  void write(int layer, VertexId begin, VertexId end, const float* rows) override {
    const std::uint64_t width = widths_.at(layer + 1);
    VertexId v = begin;
    while (v < end) {  // one message per part the range crosses
      const std::uint32_t part = book_.owner(v);
      const VertexId stop = static_cast<VertexId>(std::min<std::uint64_t>(end, book_.end(part)));
      ByteWriter w;
      w.put<std::uint32_t>(static_cast<std::uint32_t>(layer + 1))
          .put<std::uint32_t>(v)
          .put<std::uint64_t>(stop - v)
          .put<std::uint64_t>(width);
      const std::size_t at = w.out.size();
      w.out.resize(at + (stop - v) * width * sizeof(float));
      std::memcpy(w.out.data() + at, rows + static_cast<std::size_t>(v - begin) * width, (stop - v) * width * sizeof(float));
      ep_.send(layout_.loader_rank_of_part(part), kRowPut, std::move(w.out));
      v = stop;
    }
  }

  void end_layer(int layer) override {
    const std::uint32_t table = static_cast<std::uint32_t>(layer + 1);
    for (int l = 0; l < layout_.loaders; ++l) {
      ByteWriter w;
      w.put<std::uint32_t>(table);
      ep_.send(layout_.trainers + l, kLayerDone, std::move(w.out));
    }
    for (int l = 0; l < layout_.loaders; ++l) {
      const Message m = ep_.receive(layout_.trainers + l, kLayerReady);
      ByteReader r(m.bytes.data(), m.bytes.size(), from(m.source, "layer ready"));
      if (r.get<std::uint32_t>() != table) r.fail("layer ready for another table");
    }
  }

  ActivationTable take(int table) override {
    const std::uint64_t n = book_.num_nodes(), width = widths_.at(table);
    ActivationTable t = ActivationTable::in_memory(n, width);
    gather_all(table, n, width, t.data());
    return t;
  }

  void finish() override {
    trainers_.barrier();  // rank 0 may still read embeddings: the loaders keep serving until every trainer is done
    for (int l = 0; l < layout_.loaders; ++l) ep_.send(layout_.trainers + l, kRowsDone, {});
    ep_.flush();
  }
  bool on_disk() const override { return false; }  // the loaders know; run_predict asks them

 private:
  LoaderLayout layout_;
  const PartitionBook& book_;
  MessageEndpoint ep_;
  const Communicator& trainers_;
  std::map<int, std::uint64_t> widths_;
};

}  // namespace

LoaderLayout plan_loaders(int world_size, int loaders, std::uint32_t num_parts) {
  if (loaders < 0) throw std::invalid_argument("--loaders: must be 0 or more");
  if (loaders >= world_size)
    throw std::invalid_argument("--loaders " + std::to_string(loaders) + ": " + std::to_string(world_size) +
                                " ranks leave no trainer (use mpirun -np " + std::to_string(loaders + 1) + " or more)");
  if (static_cast<std::uint32_t>(loaders) > num_parts)
    throw std::invalid_argument("--loaders " + std::to_string(loaders) + ": more loaders than the shards' " +
                                std::to_string(num_parts) + " parts (each loader serves whole parts)");
  LoaderLayout l;
  l.trainers = world_size - loaders;
  l.loaders = loaders;
  l.num_parts = num_parts;
  return l;
}

std::unique_ptr<LayerRowTransport> make_loader_row_transport(const LoaderLayout& layout, const ShardSetInfo& info,
                                                             const Communicator& world, const Communicator& trainers) {
  return std::make_unique<LoaderRowTransport>(layout, info, world, trainers);
}

LoaderServeStats serve_layer_rows(const LoaderLayout& layout, const std::string& shards_dir, const Communicator& world,
                                  std::uint64_t memory_budget, const std::string& scratch_dir) {
  const int me = world.rank();
  const int index = me - layout.trainers;
  const std::string who = "loader rank " + std::to_string(me);
  std::vector<std::uint32_t> parts;
  for (std::uint32_t p = 0; p < layout.num_parts; ++p)
    if (layout.loader_rank_of_part(p) == me) parts.push_back(p);
  const ShardStore store(shards_dir, parts, ShardLoadOptions{false, true, false});
  const PartitionBook& book = store.book();
  const std::uint64_t f = store.info().feature_dim;
  // Owned rows: the parts in order; row of v = first row of its part + (v - part begin).
  std::map<std::uint32_t, std::uint64_t> first_row;
  std::uint64_t owned = 0;
  for (std::uint32_t p : parts) {
    first_row[p] = owned;
    owned += book.size(p);
  }
  auto row_of = [&](VertexId v, const ByteReader& r) -> std::uint64_t {
    if (v >= book.num_nodes()) r.fail("node " + std::to_string(v) + " beyond the graph");
    const std::uint32_t p = book.owner(v);
    const auto it = first_row.find(p);
    if (it == first_row.end()) r.fail("node " + std::to_string(v) + " (part " + std::to_string(p) + ") is not served by " + who);
    return it->second + (v - book.begin(p));
  };

  MessageEndpoint ep(world);
  LoaderServeStats stats;
  std::map<std::uint32_t, ActivationTable> tables;  // table t >= 1: output of layer t - 1, owned rows
  std::map<std::uint32_t, int> layer_done;
  int finished = 0;
  std::vector<float> buf;
  while (finished < layout.trainers) {
    Message m = ep.receive(-1, -1);
    ByteReader r(m.bytes.data(), m.bytes.size(), who + ": " + from(m.source, "request"));
    if (m.source >= layout.trainers) r.fail("a message from another loader");
    switch (m.tag) {
      case kRowGather: {
        const std::uint32_t t = r.get<std::uint32_t>();
        std::vector<VertexId> ids;
        r.array(ids);
        r.done();
        const ActivationTable* table = nullptr;
        if (t > 0) {
          const auto it = tables.find(t);
          if (it == tables.end()) r.fail("table " + std::to_string(t) + " is not held (never written, or already dropped)");
          table = &it->second;
        }
        const std::uint64_t w = t == 0 ? f : table->width();
        ByteWriter out;
        out.put<std::uint64_t>(ids.size()).put<std::uint64_t>(w);
        const std::size_t at = out.out.size();
        out.out.resize(at + ids.size() * w * sizeof(float));
        auto* dst = reinterpret_cast<unsigned char*>(out.out.data() + at);
        for (std::size_t i = 0; i < ids.size();) {
          const std::uint64_t row = row_of(ids[i], r);
          if (t == 0) {
            std::memcpy(dst + i * w * sizeof(float), store.feature_row(ids[i]), w * sizeof(float));
            ++i;
            continue;
          }
          std::size_t j = i + 1;  // consecutive ids of one part: one read
          while (j < ids.size() && ids[j] == ids[j - 1] + 1 && book.owner(ids[j]) == book.owner(ids[i])) ++j;
          buf.resize((j - i) * w);
          table->read_rows(row, j - i, buf.data());
          std::memcpy(dst + i * w * sizeof(float), buf.data(), buf.size() * sizeof(float));
          i = j;
        }
        stats.rows_served += ids.size();
        ep.send(m.source, kRowReply, std::move(out.out));
        break;
      }
      case kRowPut: {
        const std::uint32_t t = r.get<std::uint32_t>();
        const VertexId first = r.get<std::uint32_t>();
        const std::uint64_t count = r.get<std::uint64_t>(), w = r.get<std::uint64_t>();
        if (t == 0 || count == 0 || r.left() != count * w * sizeof(float)) r.fail("put size");
        const VertexId last = static_cast<VertexId>(first + count - 1);
        if (book.owner(first) != book.owner(last)) r.fail("put crosses parts");
        const std::uint64_t row = row_of(first, r);
        auto it = tables.find(t);
        if (it == tables.end()) {
          // This loader's share of the layer's input and output tables decides memory or disk.
          const auto prev = tables.find(t - 1);
          const std::uint64_t in_w = prev == tables.end() ? 0 : prev->second.width();
          const bool disk = owned * (in_w + w) * sizeof(float) > memory_budget;
          stats.on_disk = stats.on_disk || disk;
          it = tables
                   .emplace(t, disk ? ActivationTable::on_disk(scratch_dir + "/layer-" + std::to_string(t) + ".loader-" +
                                                                   std::to_string(index) + ".f32",
                                                               owned, w, true)
                                    : ActivationTable::in_memory(owned, w))
                   .first;
        }
        if (it->second.width() != w) r.fail("put of width " + std::to_string(w) + " into a table of width " +
                                             std::to_string(it->second.width()));
        buf.resize(count * w);
        std::memcpy(buf.data(), r.data(), buf.size() * sizeof(float));
        it->second.write_rows(row, count, buf.data());
        stats.rows_stored += count;
        break;
      }
      case kLayerDone: {
        const std::uint32_t t = r.get<std::uint32_t>();
        r.done();
        if (++layer_done[t] == layout.trainers) {
          // Every trainer is past table t - 1's reads: keep t - 1 (embeddings) and t, drop older ones.
          for (auto it = tables.begin(); it != tables.end();) it = it->first + 1 < t ? tables.erase(it) : std::next(it);
          for (int tr = 0; tr < layout.trainers; ++tr) {
            ByteWriter w;
            w.put<std::uint32_t>(t);
            ep.send(tr, kLayerReady, std::move(w.out));
          }
        }
        break;
      }
      case kRowsDone: ++finished; break;
      default: r.fail("unexpected message tag " + std::to_string(m.tag));
    }
    ep.progress();
  }
  ep.flush();
  stats.bytes_sent = ep.bytes_sent();
  stats.bytes_received = ep.bytes_received();
  return stats;
}

}  // namespace flotilla
