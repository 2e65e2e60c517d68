// Internal helpers shared by the synthetic data generators: thread-count resolution, an
// ordered parallel block pipeline, gzip members, and fast text formatting.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "flotilla/datasets/error.h"

namespace flotilla::gen {

// 0 = hardware concurrency (at least 1). Negative counts are rejected.
inline int resolve_threads(int threads) {
  if (threads < 0) throw std::invalid_argument("threads must be >= 0 (0 = all hardware threads)");
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Runs produce(block_index, Block&) for blocks 0..num_blocks-1 on `threads` worker threads
// and consume(block_index, Block&) on the calling thread, strictly in block order. At most
// 2 * threads blocks are in flight, so memory is bounded by the block size, not the total.
// Block objects are recycled (produce must overwrite what it reuses). The output depends
// only on what produce computes for each index, never on the thread count. An exception
// in either callback stops the pipeline and is rethrown here.
template <typename Block, typename Produce, typename Consume>
void run_ordered_blocks(std::uint64_t num_blocks, int threads, Produce&& produce, Consume&& consume) {
  if (num_blocks == 0) return;
  if (threads <= 1 || num_blocks == 1) {
    Block b;
    for (std::uint64_t i = 0; i < num_blocks; ++i) {
      produce(i, b);
      consume(i, b);
    }
    return;
  }
  const std::uint64_t window = 2 * static_cast<std::uint64_t>(threads);
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t next_claim = 0, next_consume = 0;
  std::map<std::uint64_t, Block> ready;
  std::deque<Block> pool;
  std::exception_ptr error;
  bool abort = false;

  auto worker = [&] {
    for (;;) {
      std::uint64_t idx;
      Block blk;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return abort || next_claim >= num_blocks || next_claim < next_consume + window; });
        if (abort || next_claim >= num_blocks) return;
        idx = next_claim++;
        if (!pool.empty()) {
          blk = std::move(pool.front());
          pool.pop_front();
        }
      }
      try {
        produce(idx, blk);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        abort = true;
        cv.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      ready.emplace(idx, std::move(blk));
      cv.notify_all();
    }
  };

  std::vector<std::thread> pool_threads;
  pool_threads.reserve(static_cast<std::size_t>(threads));
  auto stop_and_join = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      abort = true;
    }
    cv.notify_all();
    for (auto& t : pool_threads) t.join();
    pool_threads.clear();
  };
  try {
    for (int t = 0; t < threads; ++t) pool_threads.emplace_back(worker);
    for (std::uint64_t i = 0; i < num_blocks; ++i) {
      Block blk;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return abort || ready.count(i) > 0; });
        if (abort && ready.count(i) == 0) break;
        auto it = ready.find(i);
        blk = std::move(it->second);
        ready.erase(it);
      }
      consume(i, blk);
      std::lock_guard<std::mutex> lock(mu);
      ++next_consume;
      pool.push_back(std::move(blk));
      cv.notify_all();
    }
  } catch (...) {
    stop_and_join();
    throw;
  }
  stop_and_join();
  if (error) std::rethrow_exception(error);
}

// Appends one complete gzip member holding data[0, size) to `out`. Members concatenated in
// one file form a valid gzip file (RFC 1952 §2.2; zlib's gzread, zcat and Python's gzip read
// them as one stream), which lets blocks be compressed in parallel. Deterministic for the
// same input, level and zlib version (mtime 0, no file name).
// `strategy`: Z_DEFAULT_STRATEGY, or Z_HUFFMAN_ONLY for text with few repeats (random
// digits), where it is faster and compresses as well.
inline void gzip_append(std::string& out, const char* data, std::size_t size, int level,
                        int strategy = Z_DEFAULT_STRATEGY) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, strategy) != Z_OK)
    throw std::runtime_error("zlib: deflateInit2 failed");
  const std::size_t base = out.size();
  std::size_t produced = 0;
  std::size_t consumed = 0;
  int rc = Z_OK;
  do {
    const std::size_t in_step = std::min<std::size_t>(size - consumed, 1u << 30);
    const bool last = consumed + in_step == size;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data + consumed));
    zs.avail_in = static_cast<uInt>(in_step);
    do {
      const std::size_t room = static_cast<std::size_t>(deflateBound(&zs, static_cast<uLong>(in_step))) + 64;
      out.resize(base + produced + room);
      zs.next_out = reinterpret_cast<Bytef*>(&out[base + produced]);
      zs.avail_out = static_cast<uInt>(room);
      rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) {
        deflateEnd(&zs);
        throw std::runtime_error("zlib: deflate failed");
      }
      produced += room - zs.avail_out;
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
    consumed += in_step;
  } while (consumed < size);
  deflateEnd(&zs);
  out.resize(base + produced);
}

// A file written sequentially with error checks; bytes counted.
class OutFile {
 public:
  explicit OutFile(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "wb");
    if (!f_) throw_file(path_, std::string("cannot create: ") + std::strerror(errno));
  }
  ~OutFile() {
    if (f_) std::fclose(f_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  void write(const char* p, std::size_t n) {
    if (n == 0) return;
    if (std::fwrite(p, 1, n, f_) != n) throw_file(path_, std::string("write failed: ") + std::strerror(errno));
    bytes_ += n;
  }
  void close() {
    if (!f_) return;
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw_file(path_, std::string("write failed on close: ") + std::strerror(errno));
  }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  std::uint64_t bytes_ = 0;
};

// Growable text buffer with cheap appends (to_chars straight into the storage).
class TextBuf {
 public:
  void clear() { len_ = 0; }
  std::size_t size() const { return len_; }
  const char* data() const { return buf_.data(); }
  // Makes room for `n` more characters.
  void reserve_more(std::size_t n) {
    if (len_ + n > buf_.size()) buf_.resize(std::max(buf_.size() * 2, len_ + n + 4096));
  }
  // Callers reserve_more() first: at most 20 chars per integer, 16 per float.
  void put(char c) { buf_[len_++] = c; }
  void put_u64(std::uint64_t v) {
    auto r = std::to_chars(buf_.data() + len_, buf_.data() + buf_.size(), v);
    len_ = static_cast<std::size_t>(r.ptr - buf_.data());
  }
  // The same text as std::to_chars(v, general, 6), i.e. printf's %g: 6 significant digits,
  // trailing zeros dropped, scientific below 1e-4 and from 1e6. Values in [1e-4, 1e6) take a
  // fast path (2-3x faster) that rounds |v| * 10^k in double, ties to even; it matched
  // to_chars on 2e7 random floats over 14 decades (a mismatch would need |v| * 10^k to
  // round differently in double, and would still be deterministic).
  void put_float6(float v) {
    char* p = buf_.data() + len_;
    double a = static_cast<double>(v);
    const bool neg = a < 0;
    if (neg) a = -a;
    if (!(a >= 1e-4 && a < 1e6)) {  // zero, tiny, huge, NaN, inf
      auto r = std::to_chars(p, buf_.data() + buf_.size(), v, std::chars_format::general, 6);
      len_ = static_cast<std::size_t>(r.ptr - buf_.data());
      return;
    }
    static constexpr double kPow10[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
                                        1e7,  1e8,  1e9,  1e10};
    int e = -4;  // decimal exponent: 10^e <= a < 10^(e+1)
    while (e < 5 && a >= kPow10[e + 5]) ++e;
    std::uint64_t digits = static_cast<std::uint64_t>(std::rint(a * kPow10[9 - e]));  // 6 digits, ties to even as %g
    if (digits >= 1000000) {  // rounded up to the next power of ten
      digits /= 10;
      ++e;
      if (e > 5) {
        auto r = std::to_chars(p, buf_.data() + buf_.size(), v, std::chars_format::general, 6);
        len_ = static_cast<std::size_t>(r.ptr - buf_.data());
        return;
      }
    }
    char d[6];
    for (int i = 5; i >= 0; --i) {
      d[i] = static_cast<char>('0' + digits % 10);
      digits /= 10;
    }
    int last = 5;  // last significant digit to print (trailing zeros of the fraction dropped)
    const int int_digits = e >= 0 ? e + 1 : 0;
    while (last >= int_digits && d[last] == '0') --last;
    if (neg) *p++ = '-';
    if (e >= 0) {
      for (int i = 0; i < int_digits; ++i) *p++ = d[i];
      if (last >= int_digits) {
        *p++ = '.';
        for (int i = int_digits; i <= last; ++i) *p++ = d[i];
      }
    } else {
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -e - 1; ++i) *p++ = '0';
      for (int i = 0; i <= last; ++i) *p++ = d[i];
    }
    len_ = static_cast<std::size_t>(p - buf_.data());
  }

 private:
  std::vector<char> buf_;
  std::size_t len_ = 0;
};

}  // namespace flotilla::gen
