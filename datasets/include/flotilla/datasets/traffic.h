// Traffic folders: a sensor list, a [T, N, F] signal and a weighted directed sensor graph.
//
//   sensors.csv     header naming a sensor_id column; optional index (row order = index
//                   order, must be 0..N-1), latitude, longitude columns
//   speed.csv       `timestamp,<sensor ids>` header, then one row per 5-minute step (the CSV
//                   pandas writes for METR-LA / PEMS-BAY); F = 1 (speed). The first column
//                   is taken as timestamps when its header cell is empty or one of timestamp,
//                   time, date, datetime, index; otherwise every column is a sensor.
//   signal.npy      float32/float64 [T, N, F] (or [T, N] = one channel), sensors from
//                   sensors.csv in index order. Used instead of speed.csv when present.
//   adj.csv         `from,to,weight` by sensor id: the final weighted adjacency (DCRNN's
//                   adj_mx entries). Used instead of distances.csv when present.
//   distances.csv   `from,to,distance` by sensor id (metres): turned into DCRNN's thresholded
//                   Gaussian kernel (gen_adj_mx.py, normalized_k = 0.1), see gaussian_kernel_graph.
// Any of the CSV files may be gzipped (name.csv.gz).
//
// Sensor order: the speed.csv header when the signal comes from speed.csv (sensors.csv, if
// present, must list the same ids), otherwise sensors.csv. read_traffic and
// read_traffic_graph use the same rule, so their sensor indices agree.
//
// Decisions (see docs/formats.md):
//  - speeds: empty cells, non-numbers, NaN/inf and negative values are errors (file:line);
//    0 is kept as is (METR-LA's "missing reading" marker).
//  - adj.csv: an id not in the sensor list is an error (the file is meant for exactly this
//    sensor list); weights must be finite and >= 0, rows with weight 0 are skipped; a pair
//    listed twice is an error.
//  - distances.csv: rows whose ends are not both in the sensor list are skipped (DCRNN does
//    the same: the distance table covers a whole district); distances must be finite and
//    >= 0; a pair listed twice keeps the last distance (DCRNN fills a matrix).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flotilla/datasets/types.h"

namespace flotilla {

// Weighted directed sensor graph over sensor indices. Entries are sorted by (src, dst) and
// include self-loops as listed (the Gaussian kernel gives every listed self-distance 0 a
// weight of 1).
struct TrafficGraph {
  std::vector<std::string> sensor_ids;
  std::vector<VertexId> src, dst;
  std::vector<float> weight;
  std::string source;            // path of the adj.csv / distances.csv read
  bool from_distances = false;
  double sigma = 0;              // Gaussian-kernel sigma (from_distances only)
  std::uint64_t distance_rows = 0, distance_rows_skipped = 0;  // from_distances only

  std::uint64_t num_entries() const { return src.size(); }
  std::uint64_t num_self_loops() const;
};

struct DistanceEntry {
  VertexId from = 0, to = 0;
  double distance = 0;  // metres
};

// DCRNN's get_adjacency_matrix(distance_df, sensor_ids, normalized_k): a num_sensors^2
// matrix of float32 distances initialised to inf is filled with the entries (a repeated
// pair keeps the last); sigma = population standard deviation of the filled entries;
// w = exp(-(d / sigma)^2); entries with w < threshold are dropped. When sigma is 0 (all
// filled distances equal), d = 0 gives w = 1 and anything else w = 0.
TrafficGraph gaussian_kernel_graph(std::uint64_t num_sensors, const std::vector<DistanceEntry>& entries,
                                   double threshold = 0.1);

struct TrafficData {
  std::string dir;
  std::vector<std::string> sensor_ids;
  std::vector<double> latitude, longitude;   // from sensors.csv; empty when it has none
  std::uint64_t num_steps = 0, num_sensors = 0, num_features = 0;  // num_steps = steps held
  // Steps held: [first_step, first_step + num_steps) of a series of series_steps steps
  // (the whole series unless read with a TrafficReadOptions step range).
  std::uint64_t first_step = 0, series_steps = 0;
  std::vector<float> signal;                 // [num_steps, N, F] row-major (time-major)
  std::string signal_source;                 // path of speed.csv or signal.npy
  std::vector<std::string> timestamps;       // speed.csv only, as written (held steps)
  // Per step, when every timestamp parses as "YYYY-MM-DD HH:MM[:SS]" (else empty):
  std::vector<float> time_of_day;            // seconds since midnight / 86400, in [0, 1)
  std::vector<std::uint8_t> day_of_week;     // 0 = Monday .. 6 = Sunday
  TrafficGraph graph;

  float at(std::uint64_t t, std::uint64_t sensor, std::uint64_t f = 0) const {
    return signal[(t * num_sensors + sensor) * num_features + f];
  }
};

// Reads the whole folder (signal, sensors, graph). Throws InputError.
TrafficData read_traffic(const std::string& dir);

// Part of a series, for ranks that hold only their time block (--shard-time): steps
// [first_step, first_step + num_steps) (clipped to the series; a range starting beyond it is
// an error). signal.npy is read with pread from the first row needed, so memory is the block
// only; speed.csv is parsed whole and trimmed (CSV series are small; convert large ones to
// signal.npy with `flotilla convert`).
struct TrafficReadOptions {
  std::uint64_t first_step = 0;
  std::uint64_t num_steps = UINT64_MAX;  // UINT64_MAX: up to the end
  bool graph = true;                     // false: leave TrafficData::graph empty
};
TrafficData read_traffic(const std::string& dir, const TrafficReadOptions& options);
// Sensor list and graph only (e.g. pems-bay-graph, which has no speeds).
TrafficGraph read_traffic_graph(const std::string& dir);

struct TrafficInfo {
  std::uint64_t num_sensors = 0, num_steps = 0, num_features = 0;
  std::string signal_source;                 // empty when the folder has no signal
  std::string first_timestamp, last_timestamp;  // speed.csv only
  std::string graph_source;
  std::uint64_t graph_entries = 0, graph_self_loops = 0;
  double sigma = 0;
};
// Counts without loading the signal (speed.csv is scanned; signal.npy: header only).
TrafficInfo describe_traffic(const std::string& dir);

// Parses "YYYY-MM-DD HH:MM[:SS[.fff]]" (or with 'T'); false when it does not match.
bool parse_timestamp(const std::string& s, float& time_of_day, std::uint8_t& day_of_week);

}  // namespace flotilla
