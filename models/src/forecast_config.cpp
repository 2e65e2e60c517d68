// Torch-free part of the forecasting models: config validation, sizes, curriculum schedule.
#include <cmath>
#include <stdexcept>

#include "flotilla/models/forecast_config.h"

namespace flotilla {

const std::vector<std::string>& forecast_model_names() {
  static const std::vector<std::string> names = {"dcrnn", "dcrnn1", "tgcn"};
  return names;
}

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("ForecastModelConfig: " + what); }

void positive(std::int64_t v, const char* name) {
  if (v <= 0) bad(std::string(name) + " must be > 0, got " + std::to_string(v));
}

}  // namespace

void validate_forecast_config(const ForecastModelConfig& cfg) {
  bool known = false;
  for (const auto& n : forecast_model_names()) known = known || n == cfg.model;
  if (!known) bad("unknown model '" + cfg.model + "' (expected dcrnn, dcrnn1 or tgcn)");
  positive(cfg.num_nodes, "num_nodes");
  positive(cfg.input_dim, "input_dim");
  positive(cfg.output_dim, "output_dim");
  positive(cfg.horizon, "horizon");
  const bool dcrnn1 = cfg.model == "dcrnn1";
  if (dcrnn1 && cfg.dcrnn1_readout != "sequence" && cfg.dcrnn1_readout != "linear")
    bad("unknown dcrnn1_readout '" + cfg.dcrnn1_readout + "' (expected sequence or linear)");
  const bool sequence = dcrnn1 && cfg.dcrnn1_readout == "sequence";
  if (!sequence) positive(cfg.hidden, "hidden");
  if (!dcrnn1 && cfg.num_layers < 1) bad("num_layers must be >= 1, got " + std::to_string(cfg.num_layers));
  if (cfg.model != "tgcn" && cfg.diffusion_steps < 0)
    bad("diffusion_steps must be >= 0, got " + std::to_string(cfg.diffusion_steps));
  if (cfg.model == "dcrnn" && cfg.use_curriculum && !(std::isfinite(cfg.cl_decay_steps) && cfg.cl_decay_steps > 0))
    bad("cl_decay_steps must be finite and > 0, got " + std::to_string(cfg.cl_decay_steps));
  if (sequence && cfg.output_dim > cfg.input_dim)
    bad("dcrnn1 with readout 'sequence' predicts the first output_dim of input_dim channels: output_dim " +
        std::to_string(cfg.output_dim) + " > input_dim " + std::to_string(cfg.input_dim));
}

std::int64_t forecast_hidden_width(const ForecastModelConfig& cfg) {
  validate_forecast_config(cfg);
  if (cfg.model == "dcrnn1" && cfg.dcrnn1_readout == "sequence") return cfg.input_dim;
  return cfg.hidden;
}

std::int64_t forecast_parameter_count(const ForecastModelConfig& cfg) {
  const std::int64_t H = forecast_hidden_width(cfg);  // validates
  const std::int64_t K = cfg.diffusion_steps;
  std::int64_t total = 0;
  if (cfg.model == "dcrnn") {
    const std::int64_t M = 1 + 2 * K;  // x and K hops on each of the two supports
    for (int stack = 0; stack < 2; ++stack) {
      for (int l = 0; l < cfg.num_layers; ++l) {
        const std::int64_t in = l > 0 ? H : (stack == 0 ? cfg.input_dim : cfg.output_dim);
        total += (in + H) * M * 2 * H + 2 * H;  // gates r, u
        total += (in + H) * M * H + H;          // candidate
      }
    }
    total += H * cfg.output_dim + cfg.output_dim;  // projection
  } else if (cfg.model == "dcrnn1") {
    total += 3 * (2 * (K + 1) * (cfg.input_dim + H) * H + H);  // conv_z, conv_r, conv_h
    if (cfg.dcrnn1_readout == "linear") total += H * cfg.horizon * cfg.output_dim + cfg.horizon * cfg.output_dim;
  } else {  // tgcn
    for (int l = 0; l < cfg.num_layers; ++l) {
      const std::int64_t in = l > 0 ? H : cfg.input_dim;
      total += (in + H) * 2 * H + 2 * H + (in + H) * H + H;
    }
    total += H * cfg.horizon * cfg.output_dim + cfg.horizon * cfg.output_dim;
  }
  return total;
}

double curriculum_epsilon(const ForecastModelConfig& cfg, std::int64_t global_step) {
  if (cfg.model != "dcrnn" || !cfg.use_curriculum) return 0.0;
  const double d = cfg.cl_decay_steps;
  return d / (d + std::exp(static_cast<double>(global_step) / d));  // exp -> inf gives 0
}

}  // namespace flotilla
