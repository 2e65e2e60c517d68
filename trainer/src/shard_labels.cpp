// Label checks of a shard set before node-classification training (issue 16, item 8): labels
// bounded by a sane class count, unlabeled training nodes counted (all of them: an error).
// Reads only the label and split sections (docs/formats.md, "Shard": labels follow the owned
// vertices' original ids at 128 + 8 x owned, the split follows the labels; the same in shard
// versions 1 and 2). Torch-free.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "flotilla/datasets/error.h"
#include "flotilla/partition/shard.h"
#include "flotilla/sampler/shard_store.h"
#include "flotilla/trainer/nodeclass.h"

namespace flotilla {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at offset; false on a short file.
bool read_at(int fd, void* out, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

// A problem found in `path`: a damaged file is reported as read_shard reports it (checksum),
// otherwise as `what`.
[[noreturn]] void fail_shard(const std::string& path, const std::string& what) {
  (void)read_shard(path);  // throws when the shard is damaged
  throw_file(path, what);
}

}  // namespace

ShardLabelSummary check_shard_labels(const std::string& dir) {
  const ShardSetInfo info = read_shard_set_info(dir);
  ShardLabelSummary s;
  if (!info.has_split)
    throw std::runtime_error(dir + ": the shards carry no train/valid/test split (partition an OGB folder with split/)");
  if (!info.has_labels)
    throw std::runtime_error(dir + ": the shards carry a train/valid/test split but no labels (partition an OGB folder "
                                   "with raw/node-label.csv)");
  const std::int64_t bound = static_cast<std::int64_t>(
      std::min<std::uint64_t>(static_cast<std::uint64_t>(kMaxClasses), std::max<std::uint64_t>(info.num_nodes, 1)));
  std::int64_t max_label = -1;
  constexpr std::uint64_t kChunk = 1 << 16;
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> split;
  for (std::uint32_t p = 0; p < info.num_parts; ++p) {
    const std::string path = dir + "/part-" + std::to_string(p) + ".shard";
    const ShardHeader h = read_shard_header(path);
    const std::uint64_t owned = h.owned();
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) throw_file(path, std::string("cannot open: ") + std::strerror(errno));
    const std::uint64_t label_at = ShardHeader::kSize + 8 * owned, split_at = label_at + 8 * owned;
    for (std::uint64_t i0 = 0; i0 < owned; i0 += kChunk) {
      const std::uint64_t n = std::min(kChunk, owned - i0);
      labels.resize(n);
      split.resize(n);
      if (!read_at(f.fd, labels.data(), n * 8, label_at + 8 * i0) || !read_at(f.fd, split.data(), n, split_at + i0))
        fail_shard(path, "shorter than its header says (labels and split)");
      for (std::uint64_t j = 0; j < n; ++j) {
        const std::int64_t l = labels[j];
        if (l < -1 || l >= bound) {
          std::uint64_t old_id = 0;
          const std::uint64_t row = i0 + j;
          const bool have_id = read_at(f.fd, &old_id, 8, ShardHeader::kSize + 8 * row);
          fail_shard(path, "row " + std::to_string(row) + " (node " + std::to_string(h.begin + row) +
                               (have_id ? ", original id " + std::to_string(old_id) : std::string()) + "): label " +
                               std::to_string(l) + " is out of range: labels are -1 (unlabeled) or 0 to " +
                               std::to_string(bound - 1) + " (at most " + std::to_string(bound) +
                               " classes: min(" + std::to_string(kMaxClasses) + ", nodes " +
                               std::to_string(info.num_nodes) + "))");
        }
        max_label = std::max(max_label, l);
        const std::uint8_t code = split[j];
        if (code == 1) {
          ++s.train;
          s.unlabeled_train += l < 0;
        } else if (code == 2) {
          ++s.valid;
          s.unlabeled_valid += l < 0;
        } else if (code == 3) {
          ++s.test;
          s.unlabeled_test += l < 0;
        }
      }
    }
  }
  s.num_classes = max_label + 1;
  if (s.train == 0)
    throw std::runtime_error(dir + ": the split has no training nodes: nothing to train on");
  if (s.unlabeled_train == s.train)
    throw std::runtime_error(dir + ": none of the " + std::to_string(s.train) +
                             " training nodes has a label (all -1): nothing to train on (check raw/node-label.csv "
                             "and the split the shards were partitioned with)");
  return s;
}

}  // namespace flotilla
