// Model layout and weight initialization (see model.hpp).
#include "mlptrain/nn/model.hpp"

#include <algorithm>
#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/rng.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

std::string ModelSpec::describe() const {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "-" : "") + std::to_string(sizes[i]);
    s += std::string(" ") + activation_name(hidden_activation) + " " + loss_name(loss);
    if (dropout > 0.0f) s += " dropout " + std::to_string(dropout).substr(0, 4);
    return s;
}

InitKind parse_init(const std::string& name, const std::string& field) {
    if (name == "glorot_uniform" || name == "glorot" || name == "xavier") return InitKind::glorot_uniform;
    if (name == "he_normal" || name == "he" || name == "kaiming") return InitKind::he_normal;
    throw ConfigError(field, "one of glorot_uniform, he_normal", quote(name));
}

const char* init_name(InitKind init) {
    return init == InitKind::glorot_uniform ? "glorot_uniform" : "he_normal";
}

InitKind default_init(Activation act) {
    return act == Activation::relu || act == Activation::leaky_relu ? InitKind::he_normal
                                                                    : InitKind::glorot_uniform;
}

Model::Model(ModelSpec spec) : spec_(std::move(spec)) {
    MLPTRAIN_ASSERT(spec_.sizes.size() >= 2, "a model needs an input and an output size");
    for (int l = 0; l < num_layers(); ++l) {
        layout_.add_slot("layers." + std::to_string(l) + ".weight", dim_out(l), dim_in(l));
        layout_.add_slot("layers." + std::to_string(l) + ".bias", 1, dim_out(l));
    }
}

std::int64_t Model::max_width() const {
    return *std::max_element(spec_.sizes.begin(), spec_.sizes.end());
}

void Model::init_parameters(float* params, InitKind init, std::uint64_t seed) const {
    for (int l = 0; l < num_layers(); ++l) {
        Matrix W = weight(params, l);  // (out, in)
        const double fan_in = static_cast<double>(dim_in(l)), fan_out = static_cast<double>(dim_out(l));
        const auto glorot_limit = static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out)));
        const auto he_std = static_cast<float>(std::sqrt(2.0 / fan_in));
        for (std::int64_t i = 0; i < W.rows * W.cols; ++i) {
            const auto bits = random_bits(seed, RngPurpose::init, static_cast<std::uint32_t>(l),
                                          static_cast<std::uint64_t>(i));
            W.data[i] = init == InitKind::glorot_uniform
                            ? (2.0f * uniform01(bits[0]) - 1.0f) * glorot_limit
                            : he_std * standard_normal(bits[0], bits[1]);
        }
        float* b = bias(params, l);
        std::fill(b, b + dim_out(l), 0.0f);
    }
}

}  // namespace mlptrain
