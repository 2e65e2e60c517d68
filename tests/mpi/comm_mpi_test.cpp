// Run under mpirun (-np 3): bucketed gradient all-reduce, endpoint ordering and sizes,
// allgather helpers. Exit 0 when every rank passes; a failing rank aborts the job.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "flotilla/comm.h"
#include "flotilla/comm/communicator.h"

using namespace flotilla;

namespace {
int failures = 0;
void check(bool ok, const std::string& what, int rank) {
  if (!ok) {
    std::fprintf(stderr, "rank %d: FAIL %s\n", rank, what.c_str());
    ++failures;
  }
}
}  // namespace

int main(int argc, char** argv) {
  MpiSession mpi(&argc, &argv);
  const Communicator world = Communicator::world();
  const int r = world.rank(), P = world.size();
  // Buffers of odd sizes, one larger than a bucket, one empty; tiny buckets force splits.
  for (std::size_t bucket : {std::size_t{4096}, std::size_t{64} << 20}) {
    std::vector<std::vector<float>> bufs = {std::vector<float>(3), std::vector<float>(0), std::vector<float>(5000),
                                            std::vector<float>(1027)};
    for (std::size_t b = 0; b < bufs.size(); ++b)
      for (std::size_t i = 0; i < bufs[b].size(); ++i) bufs[b][i] = static_cast<float>((r + 1) * (b + 1) + i % 7);
    std::vector<Span<float>> spans;
    for (auto& b : bufs) spans.emplace_back(b.data(), b.size());
    GradientAllReducer red(world, bucket);
    red.allreduce(spans, 0.5f);
    const double ranks_sum = P * (P + 1) / 2.0;
    bool ok = true;
    for (std::size_t b = 0; b < bufs.size(); ++b)
      for (std::size_t i = 0; i < bufs[b].size(); ++i) {
        const double want = 0.5 * (ranks_sum * (b + 1) + P * static_cast<double>(i % 7));
        if (std::fabs(bufs[b][i] - want) > 1e-3) ok = false;
      }
    check(ok, "allreduce values (bucket " + std::to_string(bucket) + ")", r);
    check(bucket > 4096 || red.calls() > 2, "small buckets split the reduction", r);
  }
  // Endpoint: ring of messages of growing size, in order per (source, tag).
  {
    MessageEndpoint ep(world);
    const int next = (r + 1) % P, prev = (r + P - 1) % P;
    for (int i = 0; i < 5; ++i) ep.send(next, 7, std::vector<std::uint8_t>(static_cast<std::size_t>(i) * 100000 + 1, static_cast<std::uint8_t>(i)));
    for (int i = 0; i < 5; ++i) {
      Message m = ep.receive(prev, 7);
      check(m.source == prev && m.tag == 7, "message source/tag", r);
      check(m.bytes.size() == static_cast<std::size_t>(i) * 100000 + 1 && m.bytes[0] == i, "message order and size", r);
    }
    ep.flush();
    check(ep.bytes_sent() == ep.bytes_received(), "bytes sent = received in a ring", r);
  }
  const auto hosts = world.allgather("h" + std::to_string(r * 11));
  check(static_cast<int>(hosts.size()) == P && hosts[static_cast<std::size_t>(P - 1)] == "h" + std::to_string((P - 1) * 11), "allgather", r);
  const auto ids = world.allgatherv(std::vector<VertexId>(static_cast<std::size_t>(r), static_cast<VertexId>(r)));
  check(ids.size() == static_cast<std::size_t>(P * (P - 1) / 2), "allgatherv size", r);
  check(world.allreduce_max(r * 3) == (P - 1) * 3, "allreduce_max", r);
  const Communicator odd = world.split(r % 2, r);
  check(odd.size() == (P + 1 - r % 2) / 2, "split size", r);
  if (failures) abort_job("comm_mpi_test: rank " + std::to_string(r) + " failed");
  if (r == 0) std::printf("comm_mpi_test: %d ranks passed\n", P);
  return 0;
}
