// Torch-free part of the GNN models: config validation and sizes.
#include <stdexcept>

#include "flotilla/models/gnn_config.h"

namespace flotilla {

const std::vector<std::string>& gnn_model_names() {
  static const std::vector<std::string> names = {"sage", "gcn", "gat", "sgc"};
  return names;
}

bool gnn_layerwise_decomposable(const std::string& model, std::string* why) {
  // sage: mean over in-edges plus the node's own row; gcn: degree-normalised sum over in-edges
  // (full-graph degrees carried by the block); gat: softmax over each destination's in-edges.
  // sgc: parameter-free gcn propagation hops (full-graph degrees, as gcn).
  // Each reads only a destination's in-neighbourhood, so blocks of destinations compose.
  if (model == "sage" || model == "gcn" || model == "gat" || model == "sgc") return true;
  if (why)
    *why = "model '" + model + "' has no layer-wise form (layer-wise inference needs layers that read only each "
           "destination's in-neighbourhood; known: sage, gcn, gat, sgc)";
  return false;
}

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("GnnConfig: " + what); }

bool valid_rate(double p) { return p >= 0.0 && p < 1.0; }  // false for NaN as well

}  // namespace

void validate_gnn_config(const GnnConfig& cfg) {
  bool known = false;
  for (const auto& n : gnn_model_names()) known = known || n == cfg.model;
  if (!known) bad("unknown model '" + cfg.model + "' (expected sage, gcn, gat or sgc)");
  if (cfg.num_layers < 1) bad("num_layers must be >= 1, got " + std::to_string(cfg.num_layers));
  if (cfg.in_dim <= 0) bad("in_dim must be > 0, got " + std::to_string(cfg.in_dim));
  if (cfg.out_dim <= 0) bad("out_dim must be > 0, got " + std::to_string(cfg.out_dim));
  if (cfg.num_layers > 1 && cfg.model != "sgc" && cfg.hidden_dim <= 0)
    bad("hidden_dim must be > 0, got " + std::to_string(cfg.hidden_dim));
  if (!valid_rate(cfg.dropout)) bad("dropout must be in [0, 1), got " + std::to_string(cfg.dropout));
  if (!valid_rate(cfg.input_dropout))
    bad("input_dropout must be in [0, 1), got " + std::to_string(cfg.input_dropout));
  if (cfg.model == "gat") {
    if (cfg.heads < 1) bad("heads must be >= 1, got " + std::to_string(cfg.heads));
    if (cfg.out_heads < 1) bad("out_heads must be >= 1, got " + std::to_string(cfg.out_heads));
    if (cfg.num_layers > 1 && cfg.hidden_dim % cfg.heads != 0)
      bad("hidden_dim " + std::to_string(cfg.hidden_dim) + " is not divisible by heads " +
          std::to_string(cfg.heads));
    if (!valid_rate(cfg.attn_dropout))
      bad("attn_dropout must be in [0, 1), got " + std::to_string(cfg.attn_dropout));
  }
}

std::vector<std::int64_t> gnn_layer_dims(const GnnConfig& cfg) {
  validate_gnn_config(cfg);
  std::vector<std::int64_t> dims;
  dims.push_back(cfg.in_dim);
  // sgc: its linear map comes first (see gnn.h), so every hop's rows are out_dim wide.
  for (int i = 1; i < cfg.num_layers; ++i) dims.push_back(cfg.model == "sgc" ? cfg.out_dim : cfg.hidden_dim);
  dims.push_back(cfg.out_dim);
  return dims;
}

std::int64_t gnn_parameter_count(const GnnConfig& cfg) {
  const auto dims = gnn_layer_dims(cfg);
  if (cfg.model == "sgc") return cfg.in_dim * cfg.out_dim + cfg.out_dim;  // one linear map
  std::int64_t total = 0;
  for (int i = 0; i < cfg.num_layers; ++i) {
    const std::int64_t in = dims[i], out = dims[i + 1];
    const bool last = i + 1 == cfg.num_layers;
    if (cfg.model == "sage") {
      total += 2 * in * out + out;  // W_self, W_neigh, bias
    } else if (cfg.model == "gcn") {
      total += in * out + out;
    } else {  // gat: fc, attn_l, attn_r, bias
      const std::int64_t width = last ? cfg.out_heads * out : out;  // heads x head_dim
      total += in * width + 2 * width + out;
    }
  }
  return total;
}

}  // namespace flotilla
