#include "flotilla/datasets/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace flotilla {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) { b /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string human_count(double c) {
  const char* units[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (c >= 1000 && u < 4) { c /= 1000; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", c, units[u]);
  return buf;
}

std::string gib_string(double bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / 1073741824.0);
  return buf;
}

std::uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::int64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("MemAvailable:", 0) == 0) return static_cast<std::int64_t>(std::stoull(line.substr(13))) * 1024;
  return -1;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, std::string unit, bool enabled,
                         double plain_interval_s)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1), plain_interval_s_(plain_interval_s),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::uint64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : plain_interval_s_)) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && tty_) draw(true);
}

void ProgressBar::draw(bool final) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  const auto amount = [&](double v) { return unit_ == "B" ? human_bytes(v) : human_count(v) + " " + unit_; };
  // Slow units (training steps of seconds each) read better as seconds per unit.
  const auto speed = [&](double r) {
    if (unit_ == "B" || r >= 1 || r <= 0) return amount(r) + "/s";
    char b[64];
    std::snprintf(b, sizeof b, "%.2f s/%s", 1 / r, unit_.size() > 1 && unit_.back() == 's' ? unit_.substr(0, unit_.size() - 1).c_str() : unit_.c_str());
    return std::string(b);
  };
  char line[256];
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    const double eta = rate > 0 ? (static_cast<double>(total_) - static_cast<double>(done_)) / rate : 0;
    std::snprintf(line, sizeof line, "%s [%s] %5.1f%%  %s  %.0fs left", label_.c_str(), bar.c_str(), 100 * frac,
                  speed(rate).c_str(), final ? 0.0 : eta);
  } else {
    std::snprintf(line, sizeof line, "%s %s  %s  %.0fs", label_.c_str(), amount(static_cast<double>(done_)).c_str(),
                  speed(rate).c_str(), secs);
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace flotilla
