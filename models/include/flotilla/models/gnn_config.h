// GNN model configuration, free of LibTorch so that the CLI and the trainer can validate a
// configuration and size a model without compiling against torch. The models themselves are
// in flotilla/models/gnn.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

struct GnnConfig {
  std::string model = "sage";  // sage | gcn | gat | sgc
  std::int64_t in_dim = 0, hidden_dim = 256, out_dim = 0;
  int num_layers = 2;          // must equal the number of blocks passed to forward (sgc: hops K)
  // GAT: attention heads of the hidden layers. hidden_dim is the concatenated width, so
  // each head has hidden_dim / heads channels (must divide): the trainer can change the
  // head count without changing memory per node.
  int heads = 4;
  // GAT: heads of the output layer; their outputs are averaged (GAT paper: concatenating
  // would make the logit width depend on the head count). 1 = a single-head output layer.
  int out_heads = 1;
  double dropout = 0.5;        // on the input of every layer but the first
  double input_dropout = 0.0;  // on the input features (the first layer's input)
  double attn_dropout = 0.0;   // GAT: on the attention coefficients, training only
};

// Names accepted in GnnConfig::model.
const std::vector<std::string>& gnn_model_names();

// Throws std::invalid_argument naming the bad field: unknown model, in_dim/out_dim <= 0,
// num_layers < 1, hidden_dim <= 0 (when num_layers > 1, not sgc), heads/out_heads < 1, hidden_dim not
// divisible by heads (GAT with hidden layers), dropouts outside [0, 1).
void validate_gnn_config(const GnnConfig& cfg);

// Input width of each layer followed by the output width: num_layers + 1 entries
// (in_dim, hidden_dim, ..., out_dim; sgc: in_dim, out_dim, ..., out_dim). Validates cfg.
std::vector<std::int64_t> gnn_layer_dims(const GnnConfig& cfg);

// Whether `model`'s layers decompose over blocks of destination nodes, so that layer-wise
// full-neighbourhood inference (flotilla predict, --eval full) computes exactly the full-graph
// forward. True for sage, gcn, gat and sgc. False otherwise, with the reason in *why (when given).
bool gnn_layerwise_decomposable(const std::string& model, std::string* why = nullptr);

// Number of trainable scalars make_gnn(cfg) creates (for logs and the gradient all-reduce
// buffer size). Validates cfg.
std::int64_t gnn_parameter_count(const GnnConfig& cfg);

}  // namespace flotilla
