// Fuzzes the OGB folder reader: the input, split at NUL bytes, becomes node-feat, node-label
// and the train split of a 6-node dataset.
#include "flotilla/datasets.h"
#include "flotilla/datasets/ogb.h"
#include "input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string dir = flotilla::fuzz::input_dir(
      data, size, "ogb", {"raw/node-feat.csv", "raw/node-label.csv", "split/s/train.csv"},
      {{"raw/num-node-list.csv", "6\n"}, {"raw/num-edge-list.csv", "3\n"}, {"raw/edge.csv", "0,1\n2,3\n4,5\n"},
       {"split/s/valid.csv", "4\n"}, {"split/s/test.csv", "5\n"}});
  try {
    const flotilla::OgbNodeDataset ds = flotilla::read_ogb_node_dataset(dir);
    (void)ds;
  } catch (const flotilla::InputError&) {
  }
  return 0;
}
