// The network's shape (ModelSpec) and how its parameters sit in the arena (Model).
// Layers keep no per-batch state: the Model only says where each W and b lives, so every
// shard and thread can read the same parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/nn/activation.hpp"
#include "mlptrain/core/arena.hpp"
#include "mlptrain/nn/loss.hpp"

namespace mlptrain {

struct ModelSpec {
    std::vector<std::int64_t> sizes;  // input, hidden..., output: e.g. 4,64,32,3
    Activation hidden_activation = Activation::relu;
    Loss loss = Loss::softmax_cross_entropy;  // also fixes the output activation
    float dropout = 0.0f;                     // drop probability after each hidden layer

    std::int64_t num_layers() const { return static_cast<std::int64_t>(sizes.size()) - 1; }
    std::string describe() const;  // e.g. "4-64-32-3 relu cross_entropy"

    bool operator==(const ModelSpec& o) const {
        return sizes == o.sizes && hidden_activation == o.hidden_activation && loss == o.loss && dropout == o.dropout;
    }
    bool operator!=(const ModelSpec& o) const { return !(*this == o); }
};

enum class InitKind { glorot_uniform, he_normal };
InitKind parse_init(const std::string& name, const std::string& field);
const char* init_name(InitKind init);
// He-normal for the ReLU family, Glorot-uniform for the others.
InitKind default_init(Activation act);

class Model {
public:
    explicit Model(ModelSpec spec);

    const ModelSpec& spec() const { return spec_; }
    const ParameterLayout& layout() const { return layout_; }
    int num_layers() const { return static_cast<int>(spec_.num_layers()); }
    std::int64_t dim_in(int layer) const { return spec_.sizes[static_cast<std::size_t>(layer)]; }
    std::int64_t dim_out(int layer) const { return spec_.sizes[static_cast<std::size_t>(layer) + 1]; }
    std::int64_t dim_input() const { return spec_.sizes.front(); }
    std::int64_t dim_output() const { return spec_.sizes.back(); }
    std::int64_t max_width() const;  // largest layer size, input included

    // W of layer l: (out, in). b of layer l: (1, out). Views into a buffer with this layout.
    int weight_slot(int layer) const { return 2 * layer; }
    int bias_slot(int layer) const { return 2 * layer + 1; }
    Matrix weight(float* base, int layer) const { return layout_.view(base, weight_slot(layer)); }
    ConstMatrix weight(const float* base, int layer) const { return layout_.view(base, weight_slot(layer)); }
    float* bias(float* base, int layer) const { return layout_.view(base, bias_slot(layer)).data; }
    const float* bias(const float* base, int layer) const { return layout_.view(base, bias_slot(layer)).data; }

    // Fills the weights (seeded, counter-based) and zeroes the biases.
    void init_parameters(float* params, InitKind init, std::uint64_t seed) const;

private:
    ModelSpec spec_;
    ParameterLayout layout_;
};

}  // namespace mlptrain
