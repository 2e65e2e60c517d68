// Distributed batches: sampler ranks build them (expanding remote frontier nodes through
// the sampler that owns them), loader ranks send the feature rows straight to the trainer.
// Protocol, flow control and shutdown: docs/architecture.md.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "flotilla/comm/batch_source.h"
#include "schedule.h"
#include "wire.h"

namespace flotilla {

namespace {

using wire::Reader;
using wire::Writer;

// Every batch id of one trainer's schedule, in the order the trainer asks for them.
std::vector<BatchId> schedule_ids(std::uint32_t first_epoch, std::uint32_t epochs, std::uint64_t nt, std::uint64_t nv,
                                  std::uint64_t ns) {
  std::vector<BatchId> ids;
  for (std::uint32_t e = first_epoch; e < epochs; ++e) {
    for (std::uint64_t b = 0; b < nt; ++b) ids.push_back({e, BatchPhase::Train, b});
    for (std::uint64_t b = 0; b < nv; ++b) ids.push_back({e, BatchPhase::Valid, b});
    for (std::uint64_t b = 0; b < ns; ++b) ids.push_back({e, BatchPhase::Test, b});
  }
  return ids;
}

// Sleeps briefly; adds the time slept to *idle_seconds.
void idle(double* idle_seconds = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::microseconds(50));
  if (idle_seconds) *idle_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Ends a server loop's turn (begun at turn_start) that found no request to serve: the whole
// turn, polling included, counts as sending or idle. Large sends progress only while we call
// into MPI (shared-memory transports pipeline fragments, in any MPI call): with sends in
// flight, progress them and yield instead of sleeping (sending); otherwise sleep (idle).
void no_request(MessageEndpoint& ep, std::chrono::steady_clock::time_point turn_start, double* sending_seconds,
                double* idle_seconds) {
  const bool in_flight = ep.progress() > 0;
  if (in_flight) {
    sched_yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  *(in_flight ? sending_seconds : idle_seconds) +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - turn_start).count();
}

// ---- trainer side ---------------------------------------------------------------------------
class RemoteBatchSource : public BatchSource {
 public:
  RemoteBatchSource(const RolePlan& roles, int my_rank, const BatchPlan& plan)
      : roles_(roles), me_(my_rank), ep_(Communicator::world()), plan_(plan) {
    home_ = roles.ranks[static_cast<std::size_t>(my_rank)].home_sampler;
    Message m = ep_.receive(home_, wire::kHello);
    Reader r(m.bytes, wire::from_rank(home_, "hello"));
    info_.num_nodes = r.get<std::uint64_t>();
    info_.feature_dim = r.get<std::uint64_t>();
    info_.num_classes = r.get<std::int64_t>();
    info_.num_train = r.get<std::uint64_t>();
    info_.num_valid = r.get<std::uint64_t>();
    info_.num_test = r.get<std::uint64_t>();
    info_.num_parts = r.get<std::uint32_t>();
    for (auto& n : batches_) n = r.get<std::uint64_t>();
    r.done();
    ep_.send(home_, wire::kCredit, Writer().put<std::uint32_t>(plan.prefetch).out);
  }
  const DatasetInfo& info() const override { return info_; }
  std::uint64_t num_batches(BatchPhase p) const override { return batches_[static_cast<int>(p)]; }

  ReadyBatch next(const BatchId& id) override {
    std::optional<ReadyBatch> rb = receive_batch(&id);
    if (!rb) throw std::runtime_error("rank " + std::to_string(me_) + ": sampler rank " + std::to_string(home_) +
                                      " ended the schedule before batch (epoch " + std::to_string(id.epoch) + ", " +
                                      phase_name(id.phase) + " " + std::to_string(id.index) + ")");
    return std::move(*rb);
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    ep_.send(home_, wire::kStop, {});
    while (receive_batch(nullptr)) {  // the batches in flight, then the sampler's empty batch
    }
    if (!stash_.empty())
      throw std::runtime_error("rank " + std::to_string(me_) + ": feature rows for batches never sent were left over");
  }

 private:
  // The home sampler's next batch with its feature rows; empty when the sampler answers a
  // kStop (an empty kBatch). `expect`: the id the schedule says comes next (null: any).
  std::optional<ReadyBatch> receive_batch(const BatchId* expect) {
    // The home sampler sends batches in schedule order; rows may come before their batch.
    Message m = ep_.receive(home_, wire::kBatch);
    if (m.bytes.empty()) return std::nullopt;
    Reader r(m.bytes, wire::from_rank(home_, "batch"));
    ReadyBatch rb;
    rb.global_seeds = r.get<std::uint64_t>();
    const std::uint32_t expected_rows = r.get<std::uint32_t>();
    rb.batch = decode_minibatch(r.data(), r.left(), wire::from_rank(home_, "batch"));
    const BatchId id = expect ? *expect : rb.batch.id;
    if (!(rb.batch.id == id))
      throw std::runtime_error("rank " + std::to_string(me_) + " expected batch (epoch " + std::to_string(id.epoch) + ", " +
                               phase_name(id.phase) + " " + std::to_string(id.index) + ") but sampler rank " +
                               std::to_string(home_) + " sent epoch " + std::to_string(rb.batch.id.epoch) + " " +
                               phase_name(rb.batch.id.phase) + " " + std::to_string(rb.batch.id.index) +
                               " (were trainers and servers started with the same --resume/--epochs?)");
    const std::uint64_t dim = info_.feature_dim, n = rb.batch.nodes.size();
    rb.features.assign(n * dim, 0.0f);
    rb.labels.assign(rb.batch.num_seeds, -1);
    std::vector<std::uint8_t> filled(n, 0);
    std::uint32_t got = 0;
    while (got < expected_rows) {
      // Rows of later batches (from another loader, ahead of this one) wait in the stash.
      Message rm;
      bool from_stash = false;
      for (std::size_t i = 0; i < stash_.size(); ++i) {
        Reader peek(stash_[i].bytes, "");
        if (peek.id() == id) {
          rm = std::move(stash_[i]);
          stash_.erase(stash_.begin() + static_cast<std::ptrdiff_t>(i));
          from_stash = true;
          break;
        }
      }
      if (!from_stash) rm = ep_.receive(-1, wire::kRows);
      Reader rr(rm.bytes, wire::from_rank(rm.source, "rows"));
      const BatchId rid = rr.id();
      if (!(rid == id)) {
        if (stash_.size() > 64 * static_cast<std::size_t>(plan_.prefetch) * roles_.loader_ranks.size())
          rr.fail("rows for batches never asked for");
        stash_.push_back(std::move(rm));
        continue;
      }
      std::vector<std::uint32_t> pos;
      std::vector<std::int64_t> labels;
      rr.array(pos);
      rr.array(labels);
      const std::uint64_t rows = rr.get<std::uint64_t>(), d = rr.get<std::uint64_t>();
      if (d != dim || rows != pos.size() || rr.left() != rows * dim * sizeof(float)) rr.fail("row block size");
      const float* src = reinterpret_cast<const float*>(rr.data());  // memcpy below: no alignment assumption
      std::size_t li = 0;
      for (std::size_t i = 0; i < pos.size(); ++i) {
        if (pos[i] >= n || filled[pos[i]]) rr.fail("row position out of range or repeated");
        filled[pos[i]] = 1;
        std::memcpy(rb.features.data() + pos[i] * dim, reinterpret_cast<const std::uint8_t*>(src) + i * dim * sizeof(float),
                    dim * sizeof(float));
        if (pos[i] < rb.batch.num_seeds) {
          if (li >= labels.size()) rr.fail("missing seed labels");
          rb.labels[pos[i]] = labels[li++];
        }
      }
      ++got;
    }
    if (std::count(filled.begin(), filled.end(), 0))
      throw std::runtime_error("rank " + std::to_string(me_) + ": loaders sent no row for some input nodes");
    if (!stopped_) ep_.send(home_, wire::kCredit, Writer().put<std::uint32_t>(1).out);
    return rb;
  }

 public:
  TrafficCounters counters() const override {
    TrafficCounters c = counters_;
    c.bytes_sent = ep_.bytes_sent();
    c.bytes_received = ep_.bytes_received();
    return c;
  }

  void finish() override {
    for (int s : roles_.sampler_ranks) ep_.send(s, wire::kDone, {});
    for (int l : roles_.loader_ranks) ep_.send(l, wire::kDone, {});
    ep_.flush();
  }

 private:
  const RolePlan& roles_;
  int me_, home_ = -1;
  MessageEndpoint ep_;
  BatchPlan plan_;
  DatasetInfo info_;
  std::uint64_t batches_[3] = {0, 0, 0};
  TrafficCounters counters_;
  std::vector<Message> stash_;
  bool stopped_ = false;
};

// ---- sampler rank ---------------------------------------------------------------------------
class SamplerServer {
 public:
  SamplerServer(const std::string& dir, const RolePlan& roles, int me, const BatchPlan& plan)
      : roles_(roles), me_(me), plan_(plan), ep_(Communicator::world()),
        store_(dir, roles.ranks[static_cast<std::size_t>(me)].parts, ShardLoadOptions{true, false, true}),
        local_(store_), sampler_(plan.fanouts, plan.seed) {}

  TrafficCounters run(std::uint32_t first_epoch, std::uint32_t epochs, const Communicator& samplers) {
    // Seed sets: every sampler contributes the split nodes of the parts it is the first
    // server of; the union, ascending, is the co-located order.
    std::vector<VertexId> mine[3];
    for (std::uint32_t p : roles_.ranks[static_cast<std::size_t>(me_)].parts)
      if (roles_.part_samplers[p].front() == me_)
        for (std::uint8_t code = 1; code <= 3; ++code) {
          for (VertexId v = static_cast<VertexId>(store_.book().begin(p)); v < store_.book().end(p); ++v)
            if (store_.split(v) == code) mine[code - 1].push_back(v);
        }
    std::vector<VertexId> all[3];
    for (int i = 0; i < 3; ++i) {
      all[i] = samplers.allgatherv(mine[i]);
      std::sort(all[i].begin(), all[i].end());
    }
    const std::int64_t classes = samplers.allreduce_max(store_.num_classes());
    if (!store_.info().has_split || !store_.info().has_labels)
      throw std::runtime_error(store_.info().dir + ": the shards carry no labels/split (partition an OGB folder with split/)");
    // Local seed assignment groups nodes by the primary sampler of their part; a trainer's
    // group is that of its home sampler's first part.
    std::vector<int> trainer_group(roles_.trainer_ranks.size());
    for (std::size_t t = 0; t < trainer_group.size(); ++t) {
      const int home = roles_.ranks[static_cast<std::size_t>(roles_.trainer_ranks[t])].home_sampler;
      trainer_group[t] = roles_.part_samplers[roles_.ranks[static_cast<std::size_t>(home)].parts.front()].front();
    }
    const PartitionBook& book = store_.book();
    auto group_of = [&](VertexId v) { return roles_.part_samplers[book.owner(v)].front(); };
    PhaseSchedules sched =
        make_schedules(std::move(all[0]), std::move(all[1]), std::move(all[2]), plan_, group_of, trainer_group);
    if (sched.train.num_nodes() == 0) throw std::runtime_error(store_.info().dir + ": no training nodes in the split");
    // Hello to my trainers; their schedules.
    const std::uint64_t nb[3] = {planned_batches(sched.train, BatchPhase::Train, plan_),
                                 planned_batches(sched.valid, BatchPhase::Valid, plan_),
                                 planned_batches(sched.test, BatchPhase::Test, plan_)};
    for (int t : roles_.trainer_ranks) {
      if (roles_.ranks[static_cast<std::size_t>(t)].home_sampler != me_) continue;
      Writer w;
      w.put<std::uint64_t>(store_.info().num_nodes).put<std::uint64_t>(store_.info().feature_dim).put<std::int64_t>(classes);
      w.put<std::uint64_t>(sched.train.num_nodes()).put<std::uint64_t>(sched.valid.num_nodes()).put<std::uint64_t>(sched.test.num_nodes());
      w.put<std::uint32_t>(store_.info().num_parts);
      for (auto n : nb) w.put<std::uint64_t>(n);
      ep_.send(t, wire::kHello, std::move(w.out));
      Client c;
      c.rank = t;
      c.index = static_cast<std::uint32_t>(roles_.ranks[static_cast<std::size_t>(t)].index);
      c.ids = schedule_ids(first_epoch, epochs, nb[0], nb[1], nb[2]);
      clients_.push_back(std::move(c));
    }
    std::size_t turn = 0;
    const auto t_start = std::chrono::steady_clock::now();
    while (done_ < roles_.trainer_ranks.size()) {
      const auto turn_start = std::chrono::steady_clock::now();
      bool worked = pump();
      // Early stops, answered here (never inside build_and_send, whose batch must reach the
      // trainer before the answer): no more batches, then the empty batch.
      for (Client& c : clients_)
        if (c.stop_requested && !c.stop_answered) {
          c.ids.resize(c.next);
          c.stop_answered = true;
          ep_.send(c.rank, wire::kBatch, {});
          worked = true;
        }
      // Build one batch for the next client (round robin) that has credit.
      for (std::size_t k = 0; k < clients_.size(); ++k) {
        Client& c = clients_[(turn + k) % clients_.size()];
        if (c.credits == 0 || c.next >= c.ids.size()) continue;
        build_and_send(c, sched);
        turn = (turn + k + 1) % clients_.size();
        worked = true;
        break;
      }
      if (!worked) no_request(ep_, turn_start, &sending_s_, &idle_s_);
    }
    ep_.flush();
    counters_.sending_seconds = sending_s_;
    counters_.busy_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count() - idle_s_ - sending_s_;
    counters_.sampling_seconds = sampling_s_ + serve_s_;
    counters_.bytes_sent = ep_.bytes_sent();
    counters_.bytes_received = ep_.bytes_received();
    return counters_;
  }

 private:
  struct Client {
    int rank = -1;
    std::uint32_t index = 0, credits = 0;
    std::vector<BatchId> ids;
    std::size_t next = 0;
    bool stop_requested = false, stop_answered = false;  // early stop (wire::kStop)
  };

  // Handles every waiting message; true if any.
  bool pump() {
    bool any = false;
    Message m;
    while (ep_.try_receive(m)) {
      any = true;
      handle(m);
    }
    ep_.progress();
    return any;
  }

  void handle(Message& m) {
    switch (m.tag) {
      case wire::kCredit: {
        Reader r(m.bytes, wire::from_rank(m.source, "credit"));
        const std::uint32_t n = r.get<std::uint32_t>();
        r.done();
        for (Client& c : clients_)
          if (c.rank == m.source) c.credits += n;
        break;
      }
      case wire::kNbrRequest: serve_neighbors(m); break;
      case wire::kNbrReply: {
        Reader r(m.bytes, wire::from_rank(m.source, "neighbour reply"));
        const std::uint64_t req = r.get<std::uint64_t>();
        replies_[req] = std::move(m.bytes);
        break;
      }
      case wire::kStop: {
        bool mine = false;
        for (Client& c : clients_)
          if (c.rank == m.source) mine = c.stop_requested = true;
        if (!mine) throw std::runtime_error("sampler rank " + std::to_string(me_) + ": early stop from rank " +
                                            std::to_string(m.source) + ", which is not one of its trainers");
        break;
      }
      case wire::kDone: ++done_; break;
      default:
        throw std::runtime_error("sampler rank " + std::to_string(me_) + ": unexpected message tag " + std::to_string(m.tag) +
                                 " from rank " + std::to_string(m.source));
    }
  }

  void serve_neighbors(const Message& m) {
    const auto t0 = std::chrono::steady_clock::now();
    struct AddTime {  // adds the elapsed time to serve_s_ however the function ends
      std::chrono::steady_clock::time_point t0;
      double& acc;
      ~AddTime() { acc += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    } add{t0, serve_s_};
    Reader r(m.bytes, wire::from_rank(m.source, "neighbour request"));
    const std::uint64_t req = r.get<std::uint64_t>();
    const std::int64_t fanout = r.get<std::int64_t>();
    const BatchId id = r.id();
    const std::int32_t layer = r.get<std::int32_t>();
    std::vector<VertexId> nodes;
    r.array(nodes);
    r.done();
    for (VertexId v : nodes)
      if (!store_.owns(v)) r.fail("node " + std::to_string(v) + " is not served by this sampler");
    std::vector<std::uint32_t> counts;
    std::vector<VertexId> nbrs;
    local_.sample(nodes.data(), nodes.size(), fanout, plan_.seed, id, layer, counts, nbrs);
    counters_.sampled_edges_remote += nbrs.size();
    Writer w;
    w.put<std::uint64_t>(req).array(counts).array(nbrs);
    ep_.send(m.source, wire::kNbrReply, std::move(w.out));
  }

  // NeighborSource that samples owned nodes here and asks peer samplers for the rest,
  // serving their requests while it waits (so two samplers waiting on each other progress).
  class Source : public NeighborSource {
   public:
    explicit Source(SamplerServer& s) : s_(s) {}
    void sample(const VertexId* nodes, std::size_t count, std::int64_t fanout, std::uint64_t seed, const BatchId& id,
                int layer, std::vector<std::uint32_t>& counts, std::vector<VertexId>& neighbors) override {
      // Group by serving rank.
      std::map<int, std::vector<std::size_t>> by_rank;
      std::vector<std::size_t> local;
      for (std::size_t i = 0; i < count; ++i) {
        if (s_.store_.owns(nodes[i])) {
          local.push_back(i);
        } else {
          const std::uint32_t p = s_.store_.book().owner(nodes[i]);
          by_rank[s_.roles_.sampler_for(p, s_.me_)].push_back(i);
        }
      }
      std::map<std::uint64_t, int> pending;  // request id -> rank
      std::map<int, std::uint64_t> req_of;
      for (auto& [rank, idx] : by_rank) {
        std::vector<VertexId> ask;
        for (std::size_t i : idx) ask.push_back(nodes[i]);
        const std::uint64_t req = ++s_.next_request_;
        Writer w;
        w.put<std::uint64_t>(req).put<std::int64_t>(fanout).id(id).put<std::int32_t>(layer).array(ask);
        s_.ep_.send(rank, wire::kNbrRequest, std::move(w.out));
        pending[req] = rank;
        req_of[rank] = req;
      }
      // Per node: (count, neighbours) slots filled from local sampling and replies.
      std::vector<std::uint32_t> cnt(count, 0);
      std::vector<std::vector<VertexId>> nb(count);
      {
        std::vector<std::uint32_t> c1;
        std::vector<VertexId> n1;
        std::vector<VertexId> ask;
        for (std::size_t i : local) ask.push_back(nodes[i]);
        s_.local_.sample(ask.data(), ask.size(), fanout, seed, id, layer, c1, n1);
        std::size_t at = 0;
        for (std::size_t j = 0; j < local.size(); ++j) {
          cnt[local[j]] = c1[j];
          nb[local[j]].assign(n1.begin() + static_cast<std::ptrdiff_t>(at), n1.begin() + static_cast<std::ptrdiff_t>(at + c1[j]));
          at += c1[j];
        }
        s_.counters_.sampled_edges_local += n1.size();
      }
      for (auto& [rank, idx] : by_rank) {
        const std::uint64_t req = req_of[rank];
        const auto w0 = std::chrono::steady_clock::now();
        while (!s_.replies_.count(req)) {
          if (!s_.pump()) idle(&s_.idle_s_);
        }
        s_.reply_wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
        std::vector<std::uint8_t> bytes = std::move(s_.replies_[req]);
        s_.replies_.erase(req);
        Reader r(bytes, wire::from_rank(rank, "neighbour reply"));
        r.get<std::uint64_t>();
        std::vector<std::uint32_t> c1;
        std::vector<VertexId> n1;
        r.array(c1);
        r.array(n1);
        r.done();
        if (c1.size() != idx.size()) r.fail("count list length");
        std::size_t at = 0;
        for (std::size_t j = 0; j < idx.size(); ++j) {
          if (at + c1[j] > n1.size()) r.fail("neighbour list length");
          cnt[idx[j]] = c1[j];
          nb[idx[j]].assign(n1.begin() + static_cast<std::ptrdiff_t>(at), n1.begin() + static_cast<std::ptrdiff_t>(at + c1[j]));
          at += c1[j];
        }
      }
      for (std::size_t i = 0; i < count; ++i) {
        counts.push_back(cnt[i]);
        neighbors.insert(neighbors.end(), nb[i].begin(), nb[i].end());
      }
    }

   private:
    SamplerServer& s_;
  };

  void build_and_send(Client& c, const PhaseSchedules& sched) {
    maybe_inject_fault(Role::Sampler, roles_.ranks[static_cast<std::size_t>(me_)].index, ++built_);
    const BatchId id = c.ids[c.next++];
    --c.credits;
    const EpochSchedule& s = sched.of(id.phase);
    const auto seeds = s.batch(id.epoch, id.index, c.index, plan_.num_trainers);
    Source src(*this);
    const auto t0 = std::chrono::steady_clock::now();
    const double wait_before = reply_wait_s_;
    MiniBatch mb = sampler_.sample(seeds, id, src);
    // Own sampling time: the call minus waiting for peers (peer requests served meanwhile
    // are timed in serve_neighbors).
    sampling_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - (reply_wait_s_ - wait_before);
    // Gathers: positions grouped by the loader serving each node's part.
    std::map<int, std::vector<std::uint32_t>> by_loader;
    for (std::uint32_t i = 0; i < mb.nodes.size(); ++i)
      by_loader[roles_.loader_for(store_.book().owner(mb.nodes[i]), c.rank)].push_back(i);
    for (auto& [loader, pos] : by_loader) {
      std::vector<VertexId> ids;
      for (std::uint32_t i : pos) ids.push_back(mb.nodes[i]);
      Writer w;
      w.put<std::int32_t>(c.rank).id(id).put<std::uint32_t>(mb.num_seeds).array(pos).array(ids);
      ep_.send(loader, wire::kGather, std::move(w.out));
    }
    Writer w;
    w.put<std::uint64_t>(s.global_batch_size(id.index)).put<std::uint32_t>(static_cast<std::uint32_t>(by_loader.size()));
    encode(mb, w.out);
    ep_.send(c.rank, wire::kBatch, std::move(w.out));
  }

  const RolePlan& roles_;
  int me_;
  BatchPlan plan_;
  MessageEndpoint ep_;
  ShardStore store_;
  LocalNeighborSource local_;
  NeighborSampler sampler_;
  std::vector<Client> clients_;
  std::map<std::uint64_t, std::vector<std::uint8_t>> replies_;
  std::uint64_t next_request_ = 0;
  std::size_t done_ = 0;
  std::uint64_t built_ = 0;
  double idle_s_ = 0, sending_s_ = 0, serve_s_ = 0, reply_wait_s_ = 0, sampling_s_ = 0;
  TrafficCounters counters_;
};

}  // namespace

std::unique_ptr<BatchSource> make_remote_batch_source(const RolePlan& roles, int my_rank, const BatchPlan& plan,
                                                      std::uint32_t, std::uint32_t) {
  return std::make_unique<RemoteBatchSource>(roles, my_rank, plan);
}

TrafficCounters run_sampler_server(const std::string& dir, const RolePlan& roles, int my_rank, const BatchPlan& plan,
                                   std::uint32_t first_epoch, std::uint32_t epochs, const Communicator& samplers) {
  SamplerServer s(dir, roles, my_rank, plan);
  return s.run(first_epoch, epochs, samplers);
}

// ---- loader rank ----------------------------------------------------------------------------
TrafficCounters run_loader_server(const std::string& dir, const RolePlan& roles, int my_rank) {
  const RankPlan& me = roles.ranks[static_cast<std::size_t>(my_rank)];
  ShardStore store(dir, me.parts, ShardLoadOptions{false, true, true});
  MessageEndpoint ep(Communicator::world());
  TrafficCounters counters;
  std::size_t done = 0;
  std::uint64_t served = 0;
  double idle_s = 0, sending_s = 0;
  const auto t_start = std::chrono::steady_clock::now();
  const std::uint64_t dim = store.info().feature_dim;
  while (done < roles.trainer_ranks.size()) {
    const auto turn_start = std::chrono::steady_clock::now();
    Message m;
    if (!ep.try_receive(m)) {
      no_request(ep, turn_start, &sending_s, &idle_s);
      continue;
    }
    if (m.tag == wire::kDone) {
      ++done;
      continue;
    }
    if (m.tag != wire::kGather)
      throw std::runtime_error("loader rank " + std::to_string(my_rank) + ": unexpected message tag " +
                               std::to_string(m.tag) + " from rank " + std::to_string(m.source));
    maybe_inject_fault(Role::Loader, me.index, ++served);
    Reader r(m.bytes, wire::from_rank(m.source, "gather"));
    const std::int32_t trainer = r.get<std::int32_t>();
    const BatchId id = r.id();
    const std::uint32_t num_seeds = r.get<std::uint32_t>();
    std::vector<std::uint32_t> pos;
    std::vector<VertexId> ids;
    r.array(pos);
    r.array(ids);
    r.done();
    if (pos.size() != ids.size() || trainer < 0 || static_cast<std::size_t>(trainer) >= roles.ranks.size())
      r.fail("positions/ids/trainer");
    std::vector<std::int64_t> labels;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!store.owns(ids[i])) r.fail("node " + std::to_string(ids[i]) + " is not served by this loader");
      if (pos[i] < num_seeds) labels.push_back(store.label(ids[i]));
    }
    Writer w;
    w.id(id).array(pos).array(labels).put<std::uint64_t>(ids.size()).put<std::uint64_t>(dim);
    const std::size_t at = w.out.size();
    w.out.resize(at + ids.size() * dim * sizeof(float));
    for (std::size_t i = 0; i < ids.size(); ++i)
      std::memcpy(w.out.data() + at + i * dim * sizeof(float), store.feature_row(ids[i]), dim * sizeof(float));
    // Local: the node's part is served by the trainer's home sampler.
    const RankPlan& home = roles.ranks[static_cast<std::size_t>(roles.ranks[static_cast<std::size_t>(trainer)].home_sampler)];
    for (VertexId v : ids) {
      const std::uint32_t p = store.book().owner(v);
      const bool local = std::find(home.parts.begin(), home.parts.end(), p) != home.parts.end();
      ++(local ? counters.feature_rows_local : counters.feature_rows_remote);
    }
    ep.send(trainer, wire::kRows, std::move(w.out));
    ep.progress();
  }
  ep.flush();
  counters.sending_seconds = sending_s;
  counters.busy_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count() - idle_s - sending_s;
  counters.bytes_sent = ep.bytes_sent();
  counters.bytes_received = ep.bytes_received();
  return counters;
}

}  // namespace flotilla
