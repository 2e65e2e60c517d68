// Measures EdgeStream parse throughput: the open (id-discovery pre-pass for text edge
// lists) and full streaming passes, in MB/s of file and edges/s, single-threaded.
// Usage: bench_parse FILE [--format F] [--passes P] [--chunk-edges C]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "flotilla/datasets.h"

using namespace flotilla;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_parse FILE [--format F] [--passes P] [--chunk-edges C] [--keep-ids]\n");
    return 2;
  }
  EdgeStreamOptions opts;
  int passes = 3;
  std::size_t chunk = std::size_t{1} << 22;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--format" && i + 1 < argc) opts.format = parse_format_name(argv[++i]);
    else if (a == "--passes" && i + 1 < argc) passes = std::stoi(argv[++i]);
    else if (a == "--chunk-edges" && i + 1 < argc) chunk = std::stoull(argv[++i]);
    else if (a == "--keep-ids") opts.keep_ids = true;
  }
  try {
    const auto t0 = Clock::now();
    auto stream = open_edge_stream(argv[1], opts);
    const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::uint64_t file_bytes = 0;
    stream->set_progress([&](std::uint64_t, std::uint64_t total) { file_bytes = total; });
    EdgeChunk c;
    double best = 1e300;
    std::uint64_t edges = 0, checksum = 0;
    for (int p = 0; p < passes; ++p) {
      stream->rewind();
      const auto t = Clock::now();
      edges = 0;
      while (stream->next_chunk(c, chunk)) {
        edges += c.size();
        checksum += c.src.back() + c.dst.front();  // keep the work observable
      }
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
    }
    const double mb = static_cast<double>(file_bytes) / 1e6;
    std::printf("file=%s format=%s bytes=%llu edges=%llu nodes=%llu\n", argv[1], format_name(stream->info().format),
                static_cast<unsigned long long>(file_bytes), static_cast<unsigned long long>(edges),
                static_cast<unsigned long long>(stream->info().num_nodes));
    std::printf("open_seconds=%.3f open_MBps=%.1f\n", open_s, mb / open_s);
    std::printf("pass_seconds=%.3f pass_MBps=%.1f pass_Medges_per_s=%.1f (best of %d) peak_rss=%s checksum=%llu\n",
                best, mb / best, static_cast<double>(edges) / best / 1e6, passes,
                human_bytes(static_cast<double>(peak_rss_bytes())).c_str(), static_cast<unsigned long long>(checksum));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_parse: %s\n", e.what());
    return 1;
  }
}
