// Progress reporting for long-running commands. On a TTY: one redrawn bar line on stderr.
// Otherwise: a plain line at most every `plain_interval_s` seconds (logs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace flotilla {

class ProgressBar {
 public:
  // total = 0: unknown total (shows a count and rate only).
  ProgressBar(std::string label, std::uint64_t total, std::string unit = "B", bool enabled = true,
              double plain_interval_s = 10.0);
  ~ProgressBar();  // finishes the line
  void update(std::uint64_t done);
  void set_total(std::uint64_t total) { total_ = total; }
  void finish();

 private:
  void draw(bool final);
  std::string label_, unit_;
  std::uint64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  double plain_interval_s_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1.5 GB", "12.3 M" style numbers for summaries.
std::string human_bytes(double bytes);
std::string human_count(double count);
// "12.3 GiB" whatever the size: memory refusals quote need and availability in one unit.
std::string gib_string(double bytes);
// Peak resident set size of this process in bytes (VmHWM), 0 if unknown.
std::uint64_t peak_rss_bytes();
// Memory the kernel could give this process without swapping (MemAvailable in
// /proc/meminfo), in bytes; -1 when unknown (not Linux). Tools compare their own O(n)
// needs against it to refuse a job with the figures, instead of dying in the allocator or,
// with overcommit, in the OOM killer halfway through.
std::int64_t mem_available_bytes();

}  // namespace flotilla
