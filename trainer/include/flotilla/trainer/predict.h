// `flotilla predict`: a trained node-classification run's model over every node of a graph
// (layer-wise full-neighbourhood inference, flotilla/trainer/layerwise_inference.h), written
// as .npy files in the original graph's node-id order, with the accuracy of each labelled
// split. Output folder layout: docs/formats.md ("Predictions"). Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

class MpiSession;

struct PredictConfig {
  std::string run;         // run folder of `flotilla train` (config.yaml; parameters from best_model.pt)
  std::string checkpoint;  // parameters file (best_model.pt or checkpoint.pt); "" = RUN/best_model.pt
  std::string shards;      // graph with features (a `flotilla partition` folder); "" = the run's --shards
  std::string out;         // output folder (published atomically)
  bool probs = false;       // also probs.npy (softmax of the logits)
  bool embeddings = false;  // also embeddings.npy (last hidden layer)
  bool overwrite = false;   // replace an earlier predict output in OUT
  std::uint64_t memory_budget = std::uint64_t{4} << 30;  // activations beyond it are spilled to disk
  std::uint64_t block_size = 4096;                         // destination nodes per block
  std::string scratch;      // folder for spilled activations; "" = inside OUT's temp folder
  // Feature-loader ranks (the last L of the job): they serve the feature rows and keep every
  // layer's rows (layer_row_loaders.h); the other ranks compute. 0 = every rank holds the
  // whole graph and computes.
  int loaders = 0;
  std::string device = "auto";
  int threads = 0;          // LibTorch threads per rank, 0 = CPUs / ranks on the node
  std::string log_level = "info";  // error | warn | info (progress bar, summary) | debug
};

// The files a predict output folder may hold (--overwrite replaces a folder of these only).
const std::vector<std::string>& predict_file_names();

// Every rank of the MPI job calls it; returns the exit code. Bad input (no run folder, a
// model without a layer-wise form, shards that do not fit the model, an existing OUT without
// --overwrite) throws std::runtime_error / std::invalid_argument on every rank before any
// work; a failure during the work ends the job (MPI_Abort) naming the rank.
int run_predict(const PredictConfig& cfg, MpiSession& mpi, const std::string& command_line);

}  // namespace flotilla
