// Reliability of the training run's files (issue #5): checkpoint.pt (trainer/src/run_files.h)
// fed truncated, corrupted, empty files and archives with missing keys, wrong shapes and wrong
// types must give a std::runtime_error naming the file, never a crash, another exception
// (LibTorch's c10::Error must not escape unexplained) or silently different parameters; the
// --config reader (key: value) gives an InputError naming file and line.
#include <gtest/gtest.h>

#include <sys/file.h>

#include <filesystem>
#include <fstream>

#include "flotilla/datasets/error.h"
#include "flotilla/trainer/run_folder.h"
#include "flotilla/trainer/train_config.h"
#include "run_files.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::scratch_dir;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void put_bytes(const std::string& path, const std::string& bytes) {
  ::unlink(path.c_str());  // not truncate + rewrite: ext4 would flush each variant (auto_da_alloc)
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Net : torch::nn::Module {
  Net() {
    a = register_module("a", torch::nn::Linear(3, 4));
    b = register_module("b", torch::nn::Linear(4, 2));
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
};

// A model and an Adam optimizer that has taken one step (so it has state to save).
struct Trained {
  std::shared_ptr<Net> net = std::make_shared<Net>();
  torch::optim::Adam opt{net->parameters(), torch::optim::AdamOptions(0.01)};
  Trained() {
    torch::manual_seed(1);
    const torch::Tensor x = torch::randn({5, 3});
    opt.zero_grad();
    net->b->forward(net->a->forward(x)).sum().backward();
    opt.step();
  }
};

Checkpoint sample_checkpoint() {
  Checkpoint c;
  c.epoch = 4;
  c.best_valid = 0.75;
  c.test_at_best = 0.5;
  c.best_epoch = 3;
  c.best_metrics = {1.5, 2.5};
  return c;
}

// Loads path into a fresh model; true when it loaded, false on the documented error.
bool try_load(const std::string& path, const std::string& what, std::vector<torch::Tensor>* params = nullptr) {
  Trained fresh;
  try {
    const Checkpoint c = load_checkpoint(path, *fresh.net, fresh.opt);
    (void)checkpoint_next_epoch(path);
    if (params)
      for (const auto& p : fresh.net->parameters()) params->push_back(p.detach().clone());
    EXPECT_GE(c.epoch, -1) << what;
    return true;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << what << ": error does not name the file: " << e.what();
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": expected std::runtime_error naming the file, got: " << std::string(e.what()).substr(0, 300);
    return false;
  }
}

TEST(CheckpointReliability, SavedCheckpointLoadsBack) {
  const std::string path = scratch_dir() + "/checkpoint.pt";
  Trained t;
  save_checkpoint(path, *t.net, t.opt, sample_checkpoint());
  Trained fresh;
  const Checkpoint c = load_checkpoint(path, *fresh.net, fresh.opt);
  EXPECT_EQ(c.epoch, 4);
  EXPECT_EQ(c.best_epoch, 3);
  EXPECT_EQ(c.best_metrics, (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(checkpoint_next_epoch(path), 5u);
  for (std::size_t i = 0; i < t.net->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(t.net->parameters()[i], fresh.net->parameters()[i]));
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
  for (const auto& e : std::filesystem::directory_iterator(scratch_dir()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "temp file left: " << e.path();
}

// Checkpoints written before the checksum comment (LibTorch's own writer) still load.
TEST(CheckpointReliability, CheckpointsWithoutChecksumStillLoad) {
  const std::string path = scratch_dir() + "/old.pt";
  Trained t;
  torch::serialize::OutputArchive root, m, o;
  save_params(*t.net, m);
  t.opt.save(o);
  root.write("model", m);
  root.write("optimizer", o);
  root.write("epoch", torch::tensor(std::int64_t{2}));
  root.write("best_valid", torch::tensor(0.5, torch::kDouble));
  root.write("test_at_best", torch::tensor(0.25, torch::kDouble));
  root.write("best_epoch", torch::tensor(std::int64_t{1}));
  root.write("best_metrics", torch::tensor(std::vector<double>{}, torch::kDouble));
  root.save_to(path);
  Trained fresh;
  EXPECT_EQ(load_checkpoint(path, *fresh.net, fresh.opt).epoch, 2);
  EXPECT_EQ(checkpoint_next_epoch(path), 3u);
}

// Every truncation and a sample of single-byte corruptions: an error naming the file, or a
// load whose parameters are exactly the saved ones (a byte of zip metadata LibTorch ignores).
TEST(CheckpointReliability, TruncatedAndCorruptedCheckpointsAreRejected) {
  const std::string dir = scratch_dir();
  const std::string good = dir + "/good.pt", path = dir + "/checkpoint.pt";
  Trained t;
  save_checkpoint(good, *t.net, t.opt, sample_checkpoint());
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 200u);
  std::vector<torch::Tensor> saved;
  for (const auto& p : t.net->parameters()) saved.push_back(p.detach().clone());

  put_bytes(path, "");
  EXPECT_FALSE(try_load(path, "empty file"));
  put_bytes(path, "not a zip file at all\n");
  EXPECT_FALSE(try_load(path, "text file"));
  const std::size_t stride = std::max<std::size_t>(1, bytes.size() / 150);
  for (std::size_t cut = 0; cut < bytes.size(); cut += stride) {
    put_bytes(path, bytes.substr(0, cut));
    EXPECT_FALSE(try_load(path, "truncated at " + std::to_string(cut))) << "a truncated checkpoint loaded (cut " << cut << ")";
  }
  int silently_different = 0;
  for (std::size_t at = 0; at < bytes.size(); at += stride) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x5a);
    put_bytes(path, b);
    std::vector<torch::Tensor> got;
    if (try_load(path, "byte " + std::to_string(at), &got)) {
      bool same = got.size() == saved.size();
      for (std::size_t i = 0; same && i < got.size(); ++i) same = torch::equal(got[i], saved[i]);
      if (!same) {
        ++silently_different;
        ADD_FAILURE() << "byte " << at << " corrupted: the checkpoint loaded with different parameters";
      }
    }
    if (HasFailure()) break;
  }
  EXPECT_EQ(silently_different, 0);
}

// Archives that are valid zips but not checkpoints of this model.
TEST(CheckpointReliability, WrongKeysShapesAndTypesAreRejected) {
  const std::string dir = scratch_dir();
  Trained t;
  auto write = [&](const std::string& name, const std::function<void(torch::serialize::OutputArchive&)>& fill) {
    torch::serialize::OutputArchive root;
    fill(root);
    const std::string p = dir + "/" + name;
    save_archive_atomic(root, p);
    return p;
  };
  auto model = [&](torch::serialize::OutputArchive& root) {
    torch::serialize::OutputArchive m;
    save_params(*t.net, m);
    root.write("model", m);
  };
  auto optim = [&](torch::serialize::OutputArchive& root) {
    torch::serialize::OutputArchive o;
    t.opt.save(o);
    root.write("optimizer", o);
  };
  auto scalars = [&](torch::serialize::OutputArchive& root) {
    root.write("epoch", torch::tensor(std::int64_t{4}));
    root.write("best_valid", torch::tensor(0.5, torch::kDouble));
    root.write("test_at_best", torch::tensor(0.5, torch::kDouble));
    root.write("best_epoch", torch::tensor(std::int64_t{2}));
    root.write("best_metrics", torch::tensor(std::vector<double>{1.0}, torch::kDouble));
  };
  const std::vector<std::pair<std::string, std::function<void(torch::serialize::OutputArchive&)>>> cases = {
      {"no_model.pt", [&](auto& r) { optim(r); scalars(r); }},
      {"no_optimizer.pt", [&](auto& r) { model(r); scalars(r); }},
      {"no_epoch.pt", [&](auto& r) {
         model(r); optim(r);
         r.write("best_valid", torch::tensor(0.5, torch::kDouble));
       }},
      {"epoch_as_double.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("epoch", torch::tensor(4.0, torch::kDouble));
       }},
      {"epoch_vector.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("epoch", torch::tensor(std::vector<std::int64_t>{1, 2}));
       }},
      {"epoch_negative.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("epoch", torch::tensor(std::int64_t{-7}));
       }},
      {"epoch_huge.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("epoch", torch::tensor(std::int64_t{1} << 40));
       }},
      {"best_after_epoch.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("best_epoch", torch::tensor(std::int64_t{9}));
       }},
      {"metrics_as_float.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("best_metrics", torch::tensor(std::vector<float>{1.0f}));
       }},
      {"metrics_2d.pt", [&](auto& r) {
         model(r); optim(r); scalars(r);
         r.write("best_metrics", torch::zeros({2, 2}, torch::kDouble));
       }},
      {"wrong_shape.pt", [&](auto& r) {
         torch::serialize::OutputArchive m;
         for (const auto& p : t.net->named_parameters()) m.write(p.key(), torch::zeros({7}));
         r.write("model", m);
         optim(r); scalars(r);
       }},
      {"missing_param.pt", [&](auto& r) {
         torch::serialize::OutputArchive m;
         m.write("a.weight", t.net->a->weight);
         r.write("model", m);
         optim(r); scalars(r);
       }},
      {"optimizer_of_another_model.pt", [&](auto& r) {
         model(r); scalars(r);
         auto other = std::make_shared<torch::nn::LinearImpl>(5, 6);
         torch::optim::Adam o2(other->parameters(), torch::optim::AdamOptions(0.01));
         o2.zero_grad();
         other->forward(torch::randn({2, 5})).sum().backward();
         o2.step();
         torch::serialize::OutputArchive o;
         o2.save(o);
         r.write("optimizer", o);
       }},
      {"empty_archive.pt", [&](auto&) {}},
  };
  for (const auto& [name, fill] : cases) {
    const std::string p = write(name, fill);
    EXPECT_FALSE(try_load(p, name)) << name << " loaded";
  }
  EXPECT_FALSE(try_load(dir + "/missing.pt", "missing file"));
}

// save_checkpoint into a folder that does not exist: an error naming the file, no temp file.
TEST(CheckpointReliability, UnwritableDestinationNamesTheFile) {
  Trained t;
  const std::string path = scratch_dir() + "/no/such/folder/checkpoint.pt";
  try {
    save_checkpoint(path, *t.net, t.opt, sample_checkpoint());
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  try {
    write_text_atomic(scratch_dir() + "/no/such/config.yaml", "x: 1\n");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("config.yaml"), std::string::npos) << e.what();
  }
}

// metrics.jsonl of a killed run may end in a cut line; resuming keeps the complete earlier ones.
TEST(CheckpointReliability, TruncateMetricsSurvivesACutLastLine) {
  const std::string path = scratch_dir() + "/metrics.jsonl";
  for (const std::string tail : {"{\"epoch\":", "{\"epoch\":2,\"loss\":0.", "{\"epo", "{\"epoch\":99999999999999999999999}"}) {
    put_bytes(path, "{\"epoch\":0,\"loss\":1}\n{\"epoch\":1,\"loss\":0.5}\n" + tail);
    ASSERT_NO_THROW(truncate_metrics(path, 2)) << tail;
    EXPECT_EQ(read_bytes(path), "{\"epoch\":0,\"loss\":1}\n{\"epoch\":1,\"loss\":0.5}\n") << tail;
  }
}

// ---- --config files --------------------------------------------------------------------------------
TEST(ConfigReliability, BadConfigFilesGiveInputErrorsNamingFileAndLine) {
  const std::string dir = scratch_dir();
  const std::string good = "# a run\ntask: nodeclass\nshards: \"cora shards\"\nepochs: 3\nlr: 0.01\nbatch-size: 64\n"
                           "fanouts: 10,5\neval: true\nout: run1\n";
  {
    const std::string p = dir + "/good.yaml";
    put_bytes(p, good);
    TrainConfig c;
    read_config_file(p, c);
    EXPECT_EQ(c.shards, "cora shards");
    EXPECT_EQ(c.epochs.value_or(0), 3);
    EXPECT_EQ(c.batch_size.value_or(0), 64u);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no_colon", "epochs 3\n"},
      {"unknown_key", "epochz: 3\n"},
      {"duplicate", "epochs: 3\nepochs: 4\n"},
      {"duplicate_spelling", "batch-size: 3\nbatch_size: 4\n"},
      {"not_a_number", "epochs: three\n"},
      {"empty_number", "epochs:\n"},
      {"trailing_garbage", "epochs: 3x\n"},
      {"int_overflow", "epochs: 99999999999999999999\n"},
      {"u64_overflow", "batch-size: 99999999999999999999999\n"},
      {"bad_bool", "eval: maybe\n"},
      {"binary", std::string("\x00\x01\x02\xff\xfe", 5) + "\n"},
  };
  for (const auto& [name, text] : bad) {
    const std::string p = dir + "/" + name + ".yaml";
    put_bytes(p, text);
    TrainConfig c;
    try {
      read_config_file(p, c);
      ADD_FAILURE() << name << ": accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), p) << name;
      EXPECT_EQ(e.where(), InputError::Where::Line) << name << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": expected InputError, got " << e.what();
    }
  }
  // Every truncation of the good file reads or fails with an InputError; never anything else.
  for (std::size_t cut = 0; cut <= good.size(); ++cut) {
    const std::string p = dir + "/cut.yaml";
    put_bytes(p, good.substr(0, cut));
    TrainConfig c;
    try {
      read_config_file(p, c);
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), p);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cut at " << cut << ": " << e.what();
    }
  }
  TrainConfig c;
  EXPECT_THROW(read_config_file(dir + "/missing.yaml", c), InputError);
}

// Negative values for unsigned settings must not wrap around to huge ones (istream reads
// "-1" into an unsigned as 2^64-1).
TEST(ConfigReliability, NegativeValuesForUnsignedKeysAreRejected) {
  const std::string dir = scratch_dir();
  for (const char* line : {"batch-size: -1", "eval-batch-size: -64", "max-steps: -2", "prefetch: -1", "seed: -5"}) {
    const std::string p = dir + "/neg.yaml";
    put_bytes(p, std::string(line) + "\n");
    TrainConfig c;
    EXPECT_THROW(read_config_file(p, c), InputError) << line << " was accepted (batch_size " << c.batch_size.value_or(0)
                                                     << ", max_steps " << c.max_steps << ", prefetch " << c.prefetch
                                                     << ", seed " << c.seed << ")";
  }
}

// ---- issue 16: zero is a value, ranges name the flag or file:line -----------------------------------
// Reads `text` as a config file; returns the InputError's message ("" when it was accepted).
std::string config_error(const std::string& text, TrainConfig* out = nullptr) {
  const std::string p = scratch_dir() + "/cfg.yaml";
  put_bytes(p, text);
  TrainConfig c;
  try {
    read_config_file(p, c);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.where(), InputError::Where::Line) << e.what();
    return e.what();
  }
  if (out) *out = c;
  return "";
}

TEST(ConfigReliability, ZeroAndOutOfRangeValuesAreErrorsNamingKeyLineAndRange) {
  // key: value, the range the message must give.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"epochs: 0", "valid: 1 to 2147483647"},       {"epochs: -3", "valid: 1 to 2147483647"},
      {"hidden: 0", "valid: 1 to 1048576"},          {"hidden: 99999999999", "valid: 1 to 1048576"},
      {"lr: 0", "valid: a finite number > 0"},       {"lr: -0.1", "valid: a finite number > 0"},
      {"lr: inf", "valid: a finite number > 0"},     {"batch-size: 0", "valid: 1 or more"},
      {"eval-batch-size: 0", "valid: 1 or more"},    {"weight-decay: -1", "valid: a finite number >= 0"},
      {"dropout: 1", "valid: 0 <= x < 1"},           {"input-dropout: -0.5", "valid: 0 <= x < 1"},
      {"heads: 0", "valid: 1 to 1024"},              {"prefetch: 0", "valid: 1 to 65536"},
      {"horizon: 0", "valid: 1 to 1048576"},         {"layers: 0", "valid: 1 to 64"},
      {"diffusion-steps: -1", "valid: 0 to 64"},     {"max-grad-norm: -1", "valid: a finite number >= 0"},
      {"samplers: -1", "valid: 0 to 2147483647"},          {"threads: -2", "valid: 0 to 65536"},
  };
  for (const auto& [line, range] : bad) {
    const std::string m = config_error("# comment\n" + line + "\n");
    ASSERT_FALSE(m.empty()) << line << " was accepted";
    const std::string key = line.substr(0, line.find(':'));
    EXPECT_NE(m.find("cfg.yaml:2: " + key + ": "), std::string::npos) << line << ": " << m;
    EXPECT_NE(m.find(range), std::string::npos) << line << ": " << m;
  }
  // The same values as flags name the flag.
  TrainConfig c;
  try {
    set_config_value(c, "epochs", "0");
    ADD_FAILURE() << "--epochs 0 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "--epochs: 0 is out of range (valid: 1 to 2147483647)");
  }
  EXPECT_THROW(set_config_value(c, "hidden", "0"), std::invalid_argument);
  EXPECT_THROW(set_config_value(c, "lr", "0"), std::invalid_argument);
  EXPECT_THROW(set_config_value(c, "batch_size", "0"), std::invalid_argument);
  EXPECT_THROW(set_config_value(c, "weight-decay", "-1"), std::invalid_argument);
}

// A value given as 0 stays 0 (where 0 is valid); only settings not given take the defaults.
TEST(ConfigReliability, GivenZeroIsNotUnset) {
  TrainConfig c;
  ASSERT_EQ(config_error("weight-decay: 0\nmax-grad-norm: 0\nthreads: 0\nmax-steps: 0\n", &c), "");
  EXPECT_TRUE(c.given("weight-decay"));
  resolve_task_defaults(c);
  EXPECT_EQ(*c.weight_decay, 0.0);  // not the node-classification default 5e-4
  EXPECT_EQ(*c.epochs, 200);
  EXPECT_EQ(*c.hidden, 256);
  TrainConfig f;
  set_config_value(f, "task", "forecast");
  set_config_value(f, "epochs", "1");
  resolve_task_defaults(f);
  EXPECT_EQ(*f.epochs, 1);
  EXPECT_EQ(*f.batch_size, 64u);
  // config_to_yaml round-trips the resolved values (a resumed run reads them back).
  TrainConfig back;
  put_bytes(scratch_dir() + "/back.yaml", config_to_yaml(c));
  read_config_file(scratch_dir() + "/back.yaml", back);
  EXPECT_EQ(*back.weight_decay, 0.0);
  EXPECT_EQ(*back.epochs, 200);
}

// An invalid enum value in a config file names the file and line (10c), including a model of
// the other task (found by validate_config, after the file is read).
TEST(ConfigReliability, InvalidEnumValuesNameFileAndLine) {
  for (const std::string line : {"task: nodeclas", "model: sagee", "batching: lazy", "feature-norm: l2",
                                 "seed-assignment: random", "log-level: loud", "device: tpu", "eval: maybe"}) {
    const std::string m = config_error("shards: s\n" + line + "\n");
    ASSERT_FALSE(m.empty()) << line << " was accepted";
    EXPECT_NE(m.find("cfg.yaml:2: " + line.substr(0, line.find(':'))), std::string::npos) << m;
    EXPECT_NE(m.find("'" + line.substr(line.find(' ') + 1) + "'"), std::string::npos) << m;
  }
  const std::string p = scratch_dir() + "/model.yaml";
  put_bytes(p, "shards: s\nout: o\n\nmodel: dcrnn\n");
  TrainConfig c;
  read_config_file(p, c);
  resolve_task_defaults(c);
  try {
    validate_config(c);
    ADD_FAILURE() << "model dcrnn accepted for node classification";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.position(), 4u) << e.what();
    EXPECT_NE(std::string(e.what()).find("sage, gcn, gat or sgc"), std::string::npos) << e.what();
  }
}

// ---- issue 16: run folders are not overwritten, and one job at a time uses one ------------------
TrainConfig run_config(const std::string& out) {
  TrainConfig c;
  c.out = out;
  return c;
}

TEST(RunFolder, NonEmptyFolderIsRefusedUnlessOverwrite) {
  for (const char* d : {"/run", "/notes", "/only-lock"}) std::filesystem::remove_all(scratch_dir() + d);  // earlier runs
  const std::string dir = scratch_dir() + "/run";
  {
    RunFolderLock l = claim_run_folder_local(run_config(dir));  // absent: created
    EXPECT_TRUE(l.held());
    put_bytes(dir + "/config.yaml", "epochs: 1\n");
    put_bytes(dir + "/checkpoint.pt", "x");
  }
  try {
    claim_run_folder_local(run_config(dir));
    ADD_FAILURE() << "a folder holding a run was reused";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(dir + ": holds an earlier run", 0), 0u) << m;
    EXPECT_NE(m.find("--overwrite"), std::string::npos) << m;
    EXPECT_NE(m.find("--resume " + dir), std::string::npos) << m;
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/checkpoint.pt")) << "a refused run deleted files";
  // Any non-empty folder (not a run) is refused too.
  const std::string other = scratch_dir() + "/notes";
  std::filesystem::create_directories(other);
  put_bytes(other + "/readme.txt", "mine\n");
  EXPECT_THROW(claim_run_folder_local(run_config(other)), std::runtime_error);
  // --overwrite: the run files go, other files stay.
  put_bytes(dir + "/mine.txt", "keep\n");
  put_bytes(dir + "/summary.json.tmp-123", "x");
  TrainConfig ow = run_config(dir);
  ow.overwrite = true;
  {
    RunFolderLock l = claim_run_folder_local(ow);
    EXPECT_FALSE(std::filesystem::exists(dir + "/config.yaml"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoint.pt"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/summary.json.tmp-123"));
    EXPECT_TRUE(std::filesystem::exists(dir + "/mine.txt"));
  }
  // --resume continues its own folder.
  TrainConfig rs = run_config(dir);
  rs.resume = dir;
  EXPECT_NO_THROW(claim_run_folder_local(rs));
  // A folder holding only the lock file of an earlier job counts as empty.
  const std::string only_lock = scratch_dir() + "/only-lock";
  std::filesystem::create_directories(only_lock);
  put_bytes(only_lock + "/" + kRunLockName, "pid 1 on x\n");
  EXPECT_NO_THROW(claim_run_folder_local(run_config(only_lock)));
}

TEST(RunFolder, SecondHolderGetsAClearErrorAndTheLockIsReleased) {
  for (const char* d : {"/locked", "/fresh"}) std::filesystem::remove_all(scratch_dir() + d);  // earlier runs
  const std::string dir = scratch_dir() + "/locked";
  {
    RunFolderLock first = claim_run_folder_local(run_config(dir));
    put_bytes(dir + "/config.yaml", "x: 1\n");
    TrainConfig again = run_config(dir);
    again.overwrite = true;  // even with --overwrite: the folder is in use
    try {
      claim_run_folder_local(again);
      ADD_FAILURE() << "two holders of one run folder";
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind(dir + ": run folder in use by another flotilla train job (pid " + std::to_string(::getpid()), 0), 0u) << m;
    }
    EXPECT_TRUE(std::filesystem::exists(dir + "/config.yaml"));
    // An outside flock (another process, e.g. flock(1)) is seen as well.
    const int fd = ::open((dir + "/" + kRunLockName).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0);
    ::close(fd);
  }
  TrainConfig ow = run_config(dir);
  ow.overwrite = true;
  EXPECT_NO_THROW(claim_run_folder_local(ow)) << "the lock outlived its holder";
  // A folder the job created and left empty (it failed before writing) is removed again.
  const std::string fresh = scratch_dir() + "/fresh";
  { RunFolderLock l = claim_run_folder_local(run_config(fresh)); }
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

}  // namespace

// ---- issue 16.9: --rank-timeout ------------------------------------------------------------------
// Default 60 s; 0, negative, below 1, beyond a week or not finite are errors naming the flag or
// the config file and line and the range (there is no "off"); the value round-trips through
// config.yaml (a resumed run keeps it unless the flag overrides it).
TEST(ConfigReliability, RankTimeoutIsRangeCheckedAndKept) {
  EXPECT_EQ(TrainConfig().rank_timeout, 60.0);
  for (const char* v : {"0", "-1", "0.5", "604801", "inf", "nan", "1e400"}) {
    TrainConfig c;
    try {
      set_config_value(c, "rank-timeout", v);
      ADD_FAILURE() << "--rank-timeout " << v << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()), std::string("--rank-timeout: ") + v +
                                           " is out of range (valid: 1 to 604800 seconds; there is no 'off')");
    }
  }
  TrainConfig c;
  EXPECT_THROW(set_config_value(c, "rank-timeout", "soon"), std::invalid_argument);
  const std::string m = config_error("rank_timeout: 0\n");
  EXPECT_NE(m.find("cfg.yaml:1: rank-timeout: 0 is out of range (valid: 1 to 604800 seconds"), std::string::npos) << m;
  ASSERT_EQ(config_error("rank-timeout: 2.5\nshards: s\nout: o\n", &c), "");
  EXPECT_EQ(c.rank_timeout, 2.5);
  resolve_task_defaults(c);
  EXPECT_NO_THROW(validate_config(c));
  TrainConfig back;
  put_bytes(scratch_dir() + "/back.yaml", config_to_yaml(c));
  read_config_file(scratch_dir() + "/back.yaml", back);
  EXPECT_EQ(back.rank_timeout, 2.5);
  // A value held out of range (set in code) is caught by validate_config, naming the flag.
  c.rank_timeout = 0;
  try {
    validate_config(c);
    ADD_FAILURE() << "rank_timeout 0 validated";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("rank-timeout: 0 is out of range"), std::string::npos) << e.what();
  }
}

// --eval (issue 17): full | sampled | none | auto, with the older true/false read as auto and
// none; --memory-budget is a byte count where 0 is 0; both round-trip through config.yaml.
TEST(ConfigReliability, EvalModeAndMemoryBudget) {
  EXPECT_EQ(TrainConfig().eval, "auto");
  EXPECT_EQ(TrainConfig().memory_budget, std::uint64_t{4} << 30);
  for (const auto& [given, held] : std::vector<std::pair<std::string, std::string>>{
           {"full", "full"}, {"sampled", "sampled"}, {"none", "none"}, {"auto", "auto"}, {"true", "auto"}, {"false", "none"}}) {
    TrainConfig c;
    set_config_value(c, "eval", given);
    EXPECT_EQ(c.eval, held) << given;
  }
  TrainConfig c;
  EXPECT_THROW(set_config_value(c, "eval", "maybe"), std::invalid_argument);
  EXPECT_EQ(parse_byte_size("--memory-budget", "0"), 0u);
  EXPECT_EQ(parse_byte_size("--memory-budget", "1024"), 1024u);
  EXPECT_EQ(parse_byte_size("--memory-budget", "512M"), std::uint64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("--memory-budget", "4G"), std::uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("--memory-budget", "2T"), std::uint64_t{2} << 40);
  for (const char* bad : {"", "G", "-1", "4X", "1.5G", " 4G", "99999999999999999999", "9000000T"}) {
    try {
      parse_byte_size("--memory-budget", bad);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--memory-budget: ", 0), 0u) << e.what();
    }
  }
  ASSERT_EQ(config_error("eval: full\nmemory-budget: 0\nshards: s\nout: o\n", &c), "");
  EXPECT_EQ(c.eval, "full");
  EXPECT_EQ(c.memory_budget, 0u);
  resolve_task_defaults(c);
  EXPECT_NO_THROW(validate_config(c));
  TrainConfig back;
  put_bytes(scratch_dir() + "/back.yaml", config_to_yaml(c));
  read_config_file(scratch_dir() + "/back.yaml", back);
  EXPECT_EQ(back.eval, "full");
  EXPECT_EQ(back.memory_budget, 0u);
  // Forecasting has no full-graph evaluation.
  TrainConfig f;
  set_config_value(f, "task", "forecast");
  set_config_value(f, "data", "d");
  set_config_value(f, "out", "o");
  set_config_value(f, "eval", "full");
  resolve_task_defaults(f);
  EXPECT_THROW(validate_config(f), std::invalid_argument);
}

// --patience: an epoch count from 1, or off; 0 is an error (not "unset", not "off"); the
// task defaults (50, forecast off) and the YAML round trip; the stopping rule.
TEST(ConfigReliability, PatienceIsRangeCheckedAndRoundTrips) {
  TrainConfig c;
  EXPECT_THROW(set_config_value(c, "patience", "0"), std::invalid_argument);
  EXPECT_THROW(set_config_value(c, "patience", "-1"), std::invalid_argument);
  EXPECT_THROW(set_config_value(c, "patience", "never"), std::invalid_argument);
  EXPECT_FALSE(c.patience.has_value());
  resolve_task_defaults(c);
  EXPECT_EQ(*c.patience, 100);
  EXPECT_EQ(*c.epochs, 200);
  TrainConfig f;
  set_config_value(f, "task", "forecast");
  resolve_task_defaults(f);
  EXPECT_EQ(*f.patience, TrainConfig::kPatienceOff);
  for (const std::string v : {"off", "1", "7"}) {
    TrainConfig g;
    set_config_value(g, "patience", v);
    resolve_task_defaults(g);
    TrainConfig back;
    put_bytes(scratch_dir() + "/patience.yaml", config_to_yaml(g));
    read_config_file(scratch_dir() + "/patience.yaml", back);
    EXPECT_EQ(*back.patience, *g.patience) << v;
  }
  // Stop once `patience` epochs after the best brought nothing better; never when off or
  // before any best.
  EXPECT_FALSE(patience_exhausted(3, 12, 10));
  EXPECT_TRUE(patience_exhausted(3, 13, 10));
  EXPECT_FALSE(patience_exhausted(1, 5, -1));
  EXPECT_TRUE(patience_exhausted(1, 6, 5));
  EXPECT_FALSE(patience_exhausted(TrainConfig::kPatienceOff, 1000, 0));
}
