// Fuzzes the shard readers (partition/src/shard.cpp, sampler/src/shard_store.cpp): any input
// must give a shard or an InputError, never a crash or an allocation sized by an unchecked
// header count. Byte 0 selects: bit 0 recomputes both CRCs first (so mutations reach the
// checks behind the checksums), bit 1 reads the rest as old_to_new.bin instead of a shard;
// the rest is the file. A shard is also served through ShardStore as part-0 of a folder.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "flotilla/datasets.h"
#include "flotilla/datasets/bytes.h"
#include "flotilla/partition.h"
#include "flotilla/sampler/shard_store.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((mode & 1) && bytes.size() >= flotilla::ShardHeader::kSize) {
    auto* b = reinterpret_cast<unsigned char*>(bytes.data());
    flotilla::put_le<std::uint32_t>(b + 72, flotilla::crc32_update(0, b + 128, bytes.size() - 128));
    flotilla::put_le<std::uint32_t>(b + 124, flotilla::crc32_update(0, b, 124));
  }
  const std::string dir = flotilla::fuzz::input_dir(nullptr, 0, "shard", {});
  std::filesystem::create_directories(dir);
  const std::string path = dir + ((mode & 2) ? "/old_to_new.bin" : "/part-0.shard");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    if (mode & 2) {
      const std::vector<flotilla::VertexId> ids = flotilla::read_old_to_new(path);
      (void)ids;
    } else {
      (void)flotilla::read_shard_header(path);
      const flotilla::Shard s = flotilla::read_shard(path);
      (void)s;
      const flotilla::ShardStore store(dir, {0});
      (void)store.num_classes();
    }
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
