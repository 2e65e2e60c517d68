// Spatiotemporal forecasting model configuration (issue #6), free of LibTorch so that the CLI
// and the trainer can validate a configuration and size a model without compiling against
// torch. The models themselves are in flotilla/models/forecast.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

struct ForecastModelConfig {
  // dcrnn  DCRNN (Li et al., ICLR 2018) as in the reference code liyaguang/DCRNN: encoder-
  //        decoder of num_layers DCGRU cells each, dual random-walk diffusion, scheduled
  //        sampling.
  // dcrnn1 the single-cell DCRNN of PyTorch Geometric Temporal (nn.recurrent.BatchedDCRNN) as
  //        used by the index-batching paper (PGT-I): one DCGRU cell, hidden width = input_dim.
  // tgcn   T-GCN (Zhao et al., T-ITS 2019): GRU with GCN gates, linear head on the last state.
  std::string model = "dcrnn";
  std::int64_t num_nodes = 0;    // must equal the graph's
  std::int64_t input_dim = 2;    // features per node and step (speed, time of day)
  std::int64_t output_dim = 1;   // predicted features per node and step (the first ones: speed)
  std::int64_t horizon = 12;     // predicted steps
  std::int64_t hidden = 64;      // dcrnn, tgcn, dcrnn1 with readout "linear"
  int num_layers = 2;            // dcrnn (per encoder and decoder), tgcn; dcrnn1 has one cell
  // Diffusion hops K per direction (dcrnn, dcrnn1; >= 0). DCRNN's max_diffusion_step. PyTorch
  // Geometric Temporal's DConv "K" counts x itself as well: its K = diffusion_steps + 1, so
  // PGT-I's K = 3 is diffusion_steps = 2, the default here.
  int diffusion_steps = 2;
  // dcrnn: scheduled sampling (DCRNN's inverse sigmoid decay): in training, with labels, each
  // decoder step feeds the true previous value with probability
  // eps = cl_decay_steps / (cl_decay_steps + exp(global_step / cl_decay_steps)).
  bool use_curriculum = true;
  double cl_decay_steps = 2000;
  // dcrnn: false (default) reproduces the reference code, whose second support's recursion
  // starts from the first support's last two terms instead of from x (liyaguang/DCRNN#45, #90;
  // the published accuracy was obtained with it). true restarts every support from x, the
  // diffusion convolution as written in the paper's Chebyshev-style form.
  bool dual_restart = false;
  // dcrnn1 readout. "sequence" (PGT-I): hidden width = input_dim and the prediction for step t
  // is the first output_dim channels of the hidden state after input step t (horizon must
  // equal the number of input steps). "linear": a linear map from the last hidden state
  // (width hidden) to horizon * output_dim values per node, as tgcn.
  std::string dcrnn1_readout = "sequence";
};

// Names accepted in ForecastModelConfig::model.
const std::vector<std::string>& forecast_model_names();

// Throws std::invalid_argument naming the bad field: unknown model or readout, num_nodes,
// input_dim, output_dim, horizon <= 0, hidden <= 0 (where used), num_layers < 1 (dcrnn, tgcn),
// diffusion_steps < 0, cl_decay_steps not finite and > 0 (dcrnn with use_curriculum),
// output_dim > input_dim (dcrnn1 "sequence").
void validate_forecast_config(const ForecastModelConfig& cfg);

// Hidden width of the recurrent cells (dcrnn1 "sequence": input_dim). Validates cfg.
std::int64_t forecast_hidden_width(const ForecastModelConfig& cfg);

// Number of trainable scalars make_forecast_model(cfg, graph) creates. Validates cfg.
std::int64_t forecast_parameter_count(const ForecastModelConfig& cfg);

// Scheduled-sampling probability of feeding the true value at global_step:
// cl_decay_steps / (cl_decay_steps + exp(global_step / cl_decay_steps)); 0 when use_curriculum
// is off or the model is not dcrnn. Decreases from ~1 towards 0.
double curriculum_epsilon(const ForecastModelConfig& cfg, std::int64_t global_step);

}  // namespace flotilla
