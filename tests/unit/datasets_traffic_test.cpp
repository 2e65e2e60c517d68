// Traffic folders (METR-LA week, PEMS-BAY graph), DCRNN's Gaussian kernel, bad inputs and
// the synthetic traffic generator.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <unistd.h>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::scratch_dir;
using flotilla::test::shared_data;
using flotilla::test::write_file;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

float weight_of(const TrafficGraph& g, const std::string& from, const std::string& to) {
  for (std::size_t i = 0; i < g.src.size(); ++i)
    if (g.sensor_ids[g.src[i]] == from && g.sensor_ids[g.dst[i]] == to) return g.weight[i];
  return 0.0f;
}

// A small traffic folder in scratch_dir()/name with 3 sensors and 3 steps.
std::string tiny_traffic(const std::string& name, const std::map<std::string, std::string>& override = {}) {
  std::map<std::string, std::string> files = {
      {"speed.csv", "timestamp,10,20,30\n2020-01-06 00:00:00,60,0,55.5\n2020-01-06 00:05:00,61,62,+54\n"
                    "2020-01-06 08:00:00,30.25,40,50\n"},
      {"adj.csv", "from,to,weight\n10,10,1\n10,20,0.5\n20,30,0.25\n30,10,0\n"},
      {"sensors.csv", "index,sensor_id,latitude,longitude\n0,10,34.1,-118.2\n1,20,34.2,-118.3\n2,30,34.3,-118.4\n"},
  };
  for (const auto& [k, v] : override) files[k] = v;
  std::filesystem::remove_all(scratch_dir() + "/" + name);  // left by an earlier run
  for (const auto& [k, v] : files)
    if (v != "<delete>") write_file(name + "/" + k, v);
  return scratch_dir() + "/" + name;
}

}  // namespace

TEST(Traffic, MetrLaWeek) {
  const TrafficData td = read_traffic(shared_data("traffic/metr-la-week"));
  EXPECT_EQ(td.num_steps, 2016u);
  EXPECT_EQ(td.num_sensors, 207u);
  EXPECT_EQ(td.num_features, 1u);
  EXPECT_EQ(td.signal.size(), 2016u * 207u);
  EXPECT_EQ(td.sensor_ids[0], "773869");
  EXPECT_FLOAT_EQ(td.at(0, 0), 64.375f);
  EXPECT_FLOAT_EQ(td.at(0, 1), 67.625f);
  EXPECT_FLOAT_EQ(td.at(1, 0), 62.6667f);
  ASSERT_EQ(td.timestamps.size(), 2016u);
  EXPECT_EQ(td.timestamps.front(), "2012-03-01 00:00:00");
  EXPECT_EQ(td.timestamps.back(), "2012-03-07 23:55:00");
  ASSERT_EQ(td.time_of_day.size(), 2016u);
  EXPECT_FLOAT_EQ(td.time_of_day[1], 300.0f / 86400.0f);
  EXPECT_FLOAT_EQ(td.time_of_day[2015], (86400.0f - 300.0f) / 86400.0f);
  EXPECT_EQ(td.day_of_week[0], 3);     // 2012-03-01 was a Thursday
  EXPECT_EQ(td.day_of_week[2015], 2);  // 2012-03-07 a Wednesday
  ASSERT_EQ(td.latitude.size(), 207u);
  EXPECT_DOUBLE_EQ(td.latitude[0], 34.15497);
  // DCRNN's adjacency: 1,722 directed entries including 207 self-loops.
  EXPECT_FALSE(td.graph.from_distances);
  EXPECT_EQ(td.graph.num_entries(), 1722u);
  EXPECT_EQ(td.graph.num_self_loops(), 207u);
  EXPECT_FLOAT_EQ(weight_of(td.graph, "773869", "718204"), 0.508847f);
  // As an EdgeStream: self-loops dropped, 1,313 undirected pairs after symmetrising.
  auto s = open_edge_stream(shared_data("traffic/metr-la-week"));
  EXPECT_EQ(s->info().format, GraphFormat::Traffic);
  EXPECT_EQ(s->info().num_nodes, 207u);
  EXPECT_EQ(s->info().num_edges_hint, 1515u);
  EXPECT_TRUE(s->info().has_edge_weights);
  EXPECT_EQ(build_csr(*s).num_undirected_edges(), 1313u);

  const TrafficInfo info = describe_traffic(shared_data("traffic/metr-la-week"));
  EXPECT_EQ(info.num_sensors, 207u);
  EXPECT_EQ(info.num_steps, 2016u);
  EXPECT_EQ(info.first_timestamp, "2012-03-01 00:00:00");
  EXPECT_EQ(info.last_timestamp, "2012-03-07 23:55:00");
  EXPECT_EQ(info.graph_entries, 1722u);
}

TEST(Traffic, PemsBayGaussianKernelMatchesDcrnn) {
  // Expected numbers from DCRNN's gen_adj_mx.py logic run with NumPy 1.24 on the same files
  // (float32 distance matrix, sigma = dist[~isinf].std(), exp(-(d/sigma)^2), < 0.1 -> 0):
  // sigma 3620.299, 2,694 nonzero entries (325 on the diagonal), 2,079 undirected pairs.
  const TrafficGraph g = read_traffic_graph(shared_data("traffic/pems-bay-graph"));
  EXPECT_EQ(g.sensor_ids.size(), 325u);
  EXPECT_TRUE(g.from_distances);
  EXPECT_NEAR(g.sigma, 3620.2990223516895, 1e-6);
  EXPECT_EQ(g.distance_rows, 8358u);
  EXPECT_EQ(g.distance_rows_skipped, 0u);
  EXPECT_EQ(g.num_entries(), 2694u);
  EXPECT_EQ(g.num_self_loops(), 325u);
  EXPECT_NEAR(weight_of(g, "400030", "400253"), 0.62643474f, 1e-6f);
  EXPECT_NEAR(weight_of(g, "400097", "400582"), 0.9671842f, 1e-6f);
  EXPECT_NEAR(weight_of(g, "400971", "401541"), 0.45330834f, 1e-6f);
  EXPECT_NEAR(weight_of(g, "403419", "402057"), 0.14546931f, 1e-6f);
  EXPECT_EQ(weight_of(g, "400001", "400001"), 1.0f);
  EXPECT_EQ(weight_of(g, "400030", "400040"), 0.0f);  // not listed: no entry
  auto s = open_edge_stream(shared_data("traffic/pems-bay-graph"));
  EXPECT_EQ(s->info().num_nodes, 325u);
  EXPECT_EQ(build_csr(*s).num_undirected_edges(), 2079u);
  // No speeds in this folder: the full reader says so.
  EXPECT_NE(error_of([] { read_traffic(shared_data("traffic/pems-bay-graph")); }).find("no signal"), std::string::npos);
}

TEST(Traffic, GaussianKernelHandExample) {
  // Sensors A B C D; distances A-A 0, A-B 100, B-A 100, B-C 200 then 250 (the later wins),
  // C-D 300, D-A 1000, and X-A 50 with X unknown (skipped). NumPy on DCRNN's code gives
  // sigma = 332.18552 and weights A-A 1, A-B = B-A 0.91336197, B-C 0.5675684, C-D 0.44237056,
  // D-A dropped (below 0.1).
  const std::string d = tiny_traffic("hand", {{"speed.csv", "<delete>"},
                                              {"adj.csv", "<delete>"},
                                              {"sensors.csv", "sensor_id\nA\nB\nC\nD\n"},
                                              {"distances.csv", "from,to,cost\nA,A,0\nA,B,100\nB,A,100\nB,C,200\n"
                                                                "C,D,300\nD,A,1000\nX,A,50\nB,C,250\n"}});
  const TrafficGraph g = read_traffic_graph(d);
  EXPECT_NEAR(g.sigma, 332.18552, 1e-4);
  EXPECT_EQ(g.distance_rows_skipped, 1u);
  ASSERT_EQ(g.num_entries(), 5u);
  EXPECT_EQ(g.src, (std::vector<VertexId>{0, 0, 1, 1, 2}));
  EXPECT_EQ(g.dst, (std::vector<VertexId>{0, 1, 0, 2, 3}));
  EXPECT_FLOAT_EQ(g.weight[0], 1.0f);
  EXPECT_NEAR(g.weight[1], 0.91336197f, 1e-6f);
  EXPECT_NEAR(g.weight[2], 0.91336197f, 1e-6f);
  EXPECT_NEAR(g.weight[3], 0.5675684f, 1e-6f);
  EXPECT_NEAR(g.weight[4], 0.44237056f, 1e-6f);
  // Degenerate sigma = 0: only self-distances listed.
  const TrafficGraph z = gaussian_kernel_graph(3, {{0, 0, 0}, {1, 1, 0}});
  EXPECT_EQ(z.num_entries(), 2u);
  EXPECT_EQ(z.weight, (std::vector<float>{1.0f, 1.0f}));
}

TEST(Traffic, TinyFolder) {
  const TrafficData td = read_traffic(tiny_traffic("ok"));
  EXPECT_EQ(td.sensor_ids, (std::vector<std::string>{"10", "20", "30"}));
  EXPECT_EQ(td.signal, (std::vector<float>{60, 0, 55.5f, 61, 62, 54, 30.25f, 40, 50}));  // 0 kept (missing)
  EXPECT_EQ(td.time_of_day, (std::vector<float>{0.0f, 300.0f / 86400.0f, 8.0f / 24.0f}));
  EXPECT_EQ(td.day_of_week, (std::vector<std::uint8_t>{0, 0, 0}));  // 2020-01-06 was a Monday
  // adj.csv: sorted by (from, to); the weight-0 row is skipped.
  EXPECT_EQ(td.graph.src, (std::vector<VertexId>{0, 0, 1}));
  EXPECT_EQ(td.graph.dst, (std::vector<VertexId>{0, 1, 2}));
  EXPECT_EQ(td.graph.weight, (std::vector<float>{1.0f, 0.5f, 0.25f}));
  // No timestamp column (T-GCN's los_speed.csv style), unparseable timestamps, gzip.
  const TrafficData nt = read_traffic(tiny_traffic("nots", {{"speed.csv", "10,20,30\n1,2,3\n4,5,6\n"}}));
  EXPECT_EQ(nt.num_steps, 2u);
  EXPECT_TRUE(nt.timestamps.empty());
  EXPECT_TRUE(nt.time_of_day.empty());
  const TrafficData odd = read_traffic(tiny_traffic("oddts", {{"speed.csv", ",10,20,30\nmonday,1,2,3\n"}}));
  EXPECT_EQ(odd.timestamps, (std::vector<std::string>{"monday"}));
  EXPECT_TRUE(odd.time_of_day.empty());
  // sensors.csv in a different row order (index column decides); speed.csv order wins.
  const TrafficData ro = read_traffic(tiny_traffic(
      "reorder", {{"sensors.csv", "sensor_id,index,latitude,longitude\n30,2,3,3\n10,0,1,1\n20,1,2,2\n"}}));
  EXPECT_EQ(ro.latitude, (std::vector<double>{1, 2, 3}));
}

TEST(Traffic, BadInputs) {
  struct Case { const char* name; std::map<std::string, std::string> files; const char* expect; };
  const Case cases[] = {
      {"ragged", {{"speed.csv", "timestamp,10,20,30\n2020-01-06 00:00:00,1,2,3\n2020-01-06 00:05:00,1,2\n"}},
       "speed.csv:3: row has 3 fields, expected 4"},
      {"word", {{"speed.csv", "timestamp,10,20,30\n2020-01-06 00:00:00,1,fast,3\n"}},
       "speed.csv:2: expected a speed for sensor 20, found 'fast'"},
      {"nan", {{"speed.csv", "timestamp,10,20,30\n2020-01-06 00:00:00,1,2,3\nt,NaN,2,3\n"}},
       "speed.csv:3: speed for sensor 10 is 'NaN'"},
      {"emptycell", {{"speed.csv", "timestamp,10,20,30\nt,1,,3\n"}}, "speed.csv:2: empty cell for sensor 20 (column 3)"},
      {"negative", {{"speed.csv", "timestamp,10,20,30\nt,1,2,-3\n"}}, "speed.csv:2: negative speed -3 for sensor 30"},
      {"emptyspeed", {{"speed.csv", ""}}, "speed.csv: empty file"},
      {"norows", {{"speed.csv", "timestamp,10,20,30\n"}}, "speed.csv: has a header but no rows"},
      {"dupcol", {{"speed.csv", "timestamp,10,20,10\n"}}, "speed.csv:1: sensor id '10' appears twice"},
      {"gap", {{"speed.csv", "timestamp,10,20,30\nt,1,2,3\n\nt,1,2,3\n"}}, "speed.csv:3: empty row in the middle"},
      {"unknown", {{"adj.csv", "from,to,weight\n10,20,0.5\n10,99,0.5\n"}},
       "adj.csv:3: unknown sensor '99' (not in the folder's sensor list)"},
      {"adjnan", {{"adj.csv", "from,to,weight\n10,20,nan\n"}}, "adj.csv:2: weight is not finite"},
      {"adjneg", {{"adj.csv", "10,20,-1\n"}}, "adj.csv:1: negative weight -1"},
      {"adjdup", {{"adj.csv", "10,20,1\n20,30,1\n10,20,0.5\n"}}, "adj.csv:3: pair 10 -> 20 is listed twice (also on line 1)"},
      {"adjfields", {{"adj.csv", "10,20,1\n10\n"}}, "adj.csv:2: expected 3 fields"},
      {"emptyadj", {{"adj.csv", ""}, {"distances.csv", "<delete>"}}, ""},  // empty graph: allowed
      {"nograph", {{"adj.csv", "<delete>"}}, "no sensor graph"},
      {"mismatch", {{"sensors.csv", "sensor_id\n10\n20\n31\n"}}, "speed.csv:1: sensor 30 of the header is not listed in"},
      {"moresensors", {{"sensors.csv", "sensor_id\n10\n20\n30\n40\n"}}, "sensors.csv: lists 4 sensors"},
      {"sensorhdr", {{"sensors.csv", "10\n20\n30\n"}}, "sensors.csv:1: expected a header line naming a sensor_id column"},
      {"badindex", {{"sensors.csv", "index,sensor_id\n0,10\n5,20\n2,30\n"}}, "the index column must number the 3 sensors"},
      {"distnan", {{"adj.csv", "<delete>"}, {"distances.csv", "from,to,distance\n10,20,nan\n"}}, "distances.csv:2: distance is not finite"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string d = tiny_traffic(c.name, c.files);
    const std::string err = error_of([&] { read_traffic(d); });
    if (std::string(c.expect).empty()) {
      EXPECT_EQ(err, "<no InputError thrown>");
      continue;
    }
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
  }
  // signal.npy with the wrong sensor count, NaN values, or without sensors.csv.
  const std::string d = tiny_traffic("npy", {{"speed.csv", "<delete>"}});
  write_npy(d + "/signal.npy", {2, 4, 1}, std::vector<float>(8, 1.0f));
  EXPECT_NE(error_of([&] { read_traffic(d); }).find("has 4 sensors, the sensor list has 3"), std::string::npos);
  std::vector<float> sig(6, 50.0f);
  sig[4] = std::nanf("");
  write_npy(d + "/signal.npy", {2, 3}, sig);
  EXPECT_NE(error_of([&] { read_traffic(d); }).find("signal.npy: byte 144: non-finite value at step 1, sensor 20"),
            std::string::npos);
  std::filesystem::remove(d + "/sensors.csv");
  EXPECT_NE(error_of([&] { read_traffic(d); }).find("no sensors.csv"), std::string::npos);
}

TEST(Traffic, NegativeSpeedInSignalNpyIsRejected) {
  // As speed.csv does, signal.npy rejects a negative speed (channel 0); other channels may be
  // negative, and 0 (a missing reading) is fine.
  const std::string d = tiny_traffic("npyneg", {{"speed.csv", "<delete>"}});
  std::vector<float> sig(6, 50.0f);
  sig[1] = 0.0f;
  sig[5] = -3.5f;  // step 1, sensor 30
  write_npy(d + "/signal.npy", {2, 3}, sig);
  const std::uint64_t off2 = read_npy_header(d + "/signal.npy").data_offset;
  std::string e = error_of([&] { read_traffic(d); });
  EXPECT_NE(e.find("signal.npy: byte " + std::to_string(off2 + 5 * 4) + ": negative speed -3.5 at step 1, sensor 30"),
            std::string::npos) << e;
  // [T, N, F] float64: element (step 1, sensor 10, channel 0) is index 6.
  std::vector<double> sig3(12, 40.0);
  sig3[1] = -0.25;  // channel 1 of step 0, sensor 10: not a speed
  sig3[6] = -1.0;
  write_npy(d + "/signal.npy", {2, 3, 2}, sig3);
  const std::uint64_t off3 = read_npy_header(d + "/signal.npy").data_offset;
  e = error_of([&] { read_traffic(d); });
  EXPECT_NE(e.find("signal.npy: byte " + std::to_string(off3 + 6 * 8) + ": negative speed -1 at step 1, sensor 10"),
            std::string::npos) << e;
  sig3[6] = 0.0;
  write_npy(d + "/signal.npy", {2, 3, 2}, sig3);
  const TrafficData td = read_traffic(d);
  EXPECT_EQ(td.at(0, 0, 1), -0.25f);
  EXPECT_EQ(td.at(1, 0, 0), 0.0f);
}

TEST(TrafficGenerator, SmallRunReadsBackAndIsDeterministic) {
  const std::string dir = scratch_dir() + "/gen";
  std::filesystem::remove_all(dir);  // left by an earlier run
  TrafficGenOptions o;
  o.num_sensors = 50;
  o.num_steps = 600;
  o.num_features = 2;
  o.seed = 7;
  o.threads = 1;
  std::uint64_t last_done = 0, calls = 0;
  const TrafficGenResult r = generate_traffic(o, dir + "/a", [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_EQ(total, 600u);
    EXPECT_GE(done, last_done);
    last_done = done;
    ++calls;
  });
  EXPECT_EQ(last_done, 600u);
  EXPECT_GE(calls, 2u);
  EXPECT_EQ(r.num_sensors, 50u);
  EXPECT_EQ(r.num_steps, 600u);
  EXPECT_GE(r.num_edges, 50u * 8u);
  o.threads = 3;
  generate_traffic(o, dir + "/b");
  EXPECT_EQ(slurp(dir + "/a/signal.npy"), slurp(dir + "/b/signal.npy"));
  EXPECT_EQ(slurp(dir + "/a/distances.csv"), slurp(dir + "/b/distances.csv"));
  EXPECT_EQ(slurp(dir + "/a/sensors.csv"), slurp(dir + "/b/sensors.csv"));
  o.seed = 8;
  generate_traffic(o, dir + "/c");
  EXPECT_NE(slurp(dir + "/a/signal.npy"), slurp(dir + "/c/signal.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/a.tmp-" + std::to_string(::getpid())));

  const TrafficData td = read_traffic(dir + "/a");
  EXPECT_EQ(td.num_steps, 600u);
  EXPECT_EQ(td.num_sensors, 50u);
  EXPECT_EQ(td.num_features, 2u);
  EXPECT_EQ(td.sensor_ids[0], "400000");
  EXPECT_EQ(td.latitude.size(), 50u);
  EXPECT_TRUE(td.graph.from_distances);
  EXPECT_EQ(td.graph.num_self_loops(), 50u);
  EXPECT_GT(td.graph.num_entries(), 50u * 3u);
  EXPECT_GT(td.graph.sigma, 0.0);
  // Channels and plausibility.
  double sum = 0;
  std::uint64_t count = 0, zeros = 0;
  bool tod_ok = true;
  for (std::uint64_t t = 0; t < td.num_steps; ++t)
    for (std::uint64_t n = 0; n < td.num_sensors; ++n) {
      const float v = td.at(t, n, 0);
      if (v == 0) { ++zeros; continue; }
      EXPECT_TRUE(v >= 2.0f && v <= 85.0f) << v;
      sum += v;
      ++count;
      tod_ok &= td.at(t, n, 1) == static_cast<float>(t % 288) / 288.0f;
    }
  EXPECT_TRUE(tod_ok);
  const double mean = sum / count;
  EXPECT_GT(mean, 30.0);
  EXPECT_LT(mean, 75.0);
  EXPECT_LT(zeros, td.num_steps * td.num_sensors / 20);  // a few missing readings, not many
  auto mean_at = [&](std::uint64_t step_of_day) {
    double s = 0;
    std::uint64_t c = 0;
    for (std::uint64_t t = step_of_day; t < td.num_steps; t += 288)
      for (std::uint64_t n = 0; n < td.num_sensors; ++n)
        if (td.at(t, n) > 0) { s += td.at(t, n); ++c; }
    return s / c;
  };
  EXPECT_LT(mean_at(8 * 12), mean_at(3 * 12) - 5.0);  // morning rush hour vs 3:00
  EXPECT_LT(mean_at(17 * 12 + 6), mean_at(3 * 12) - 5.0);  // evening

  // Refuses to overwrite a non-empty folder; an empty one is fine.
  EXPECT_THROW(generate_traffic(o, dir + "/a"), InputError);
  std::filesystem::create_directories(dir + "/empty");
  o.num_features = 3;
  generate_traffic(o, dir + "/empty");
  const TrafficInfo info = describe_traffic(dir + "/empty");
  EXPECT_EQ(info.num_features, 3u);
  EXPECT_EQ(info.num_steps, 600u);
  EXPECT_THROW({ o.num_features = 4; generate_traffic(o, dir + "/x"); }, std::invalid_argument);
}

TEST(TrafficGenerator, TrailingSlashNamesTheSameFolder) {
  // "DIR/" and "DIR//." name DIR: the temp folder is built beside it (DIR.tmp-PID), not inside.
  const std::string dir = scratch_dir() + "/genslash";
  std::filesystem::remove_all(dir);
  TrafficGenOptions o;
  o.num_sensors = 10;
  o.num_steps = 20;
  o.threads = 1;
  const TrafficGenResult r = generate_traffic(o, dir + "/out/");
  EXPECT_EQ(r.num_sensors, 10u);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/out/signal.npy"));
  EXPECT_EQ(read_traffic(dir + "/out").num_steps, 20u);
  const std::string tmp_name = ".tmp-" + std::to_string(::getpid());
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/" + tmp_name));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out" + tmp_name));
  // An existing empty folder given with trailing slashes, and "/." at the end.
  std::filesystem::create_directories(dir + "/empty");
  generate_traffic(o, dir + "/empty//");
  EXPECT_EQ(slurp(dir + "/empty/signal.npy"), slurp(dir + "/out/signal.npy"));
  generate_traffic(o, dir + "/dot/.");
  EXPECT_EQ(slurp(dir + "/dot/signal.npy"), slurp(dir + "/out/signal.npy"));
  // Still refuses a non-empty folder, however it is spelled.
  EXPECT_THROW(generate_traffic(o, dir + "/out/"), InputError);
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"dot", "empty", "out"}));
}
