// The weight-store tuner (see weight_stores.hpp).
#include "mlptrain/engine/weight_stores.hpp"

#include <algorithm>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

std::string weight_stores_name(WeightStores stores) {
    switch (stores) {
        case WeightStores::automatic: return "auto";
        case WeightStores::streaming: return "streaming";
        case WeightStores::plain: return "plain";
    }
    return "?";
}

WeightStores parse_weight_stores(const std::string& text, const std::string& field) {
    for (WeightStores stores : {WeightStores::automatic, WeightStores::streaming, WeightStores::plain})
        if (text == weight_stores_name(stores)) return stores;
    throw ConfigError(field, "auto, streaming or plain", quote(text),
                      "auto measures both now and then and runs the faster; the weights are the same either way");
}

WeightStoreTuner::WeightStoreTuner() : WeightStoreTuner(Options{}) {}

WeightStoreTuner::WeightStoreTuner(const Options& options) : options_(options), interval_(options.first_probe_seconds) {
    MLPTRAIN_ASSERT(options.probe_steps > 0 && options.settle_steps >= 0 && options.wins_to_switch > 0,
                    "WeightStoreTuner: bad step counts");
    // Reserved here so that recording a step never allocates (tests/test_alloc.cpp).
    const auto n = static_cast<std::size_t>(options.probe_steps);
    recent_.reserve(n);
    probe_.reserve(n);
    after_.reserve(n);
    scratch_.reserve(n);
}

// The median of `times` (the upper one of an even count), through a scratch copy.
double WeightStoreTuner::median(const std::vector<double>& times) {
    scratch_.assign(times.begin(), times.end());
    const auto middle = scratch_.begin() + static_cast<std::ptrdiff_t>(scratch_.size() / 2);
    std::nth_element(scratch_.begin(), middle, scratch_.end());
    return *middle;
}

void WeightStoreTuner::record(double step_seconds) {
    ++(streaming() ? counts_.streaming_steps : counts_.plain_steps);
    since_probe_ += step_seconds;
    if (settle_left_ > 0) {  // its passes read what the other kind wrote: not comparable
        --settle_left_;
        return;
    }
    const auto wanted = static_cast<std::size_t>(options_.probe_steps);
    switch (phase_) {
        case Phase::probing:  // the other kind
            probe_.push_back(step_seconds);
            if (probe_.size() == wanted) {
                phase_ = Phase::returning;
                settle_left_ = options_.settle_steps;
            }
            return;
        case Phase::returning:  // the running kind again, right after the probe
            after_.push_back(step_seconds);
            if (after_.size() == wanted) decide();
            return;
        case Phase::running:
            if (recent_.size() < wanted) {
                recent_.push_back(step_seconds);
            } else {
                recent_[recent_next_] = step_seconds;
                recent_next_ = (recent_next_ + 1) % wanted;
            }
            if (recent_.size() == wanted && (wins_ > 0 || since_probe_ >= interval_)) {
                phase_ = Phase::probing;
                settle_left_ = options_.settle_steps;
            }
            return;
    }
}

// The other kind wins a probe when its median beats the running kind's both before and
// after the probe: a host that speeds up or slows down during the probe then cannot make
// either side look faster. A win is probed again right away (the window after this probe
// is the one before the next); `wins_to_switch` wins in a row switch.
void WeightStoreTuner::decide() {
    ++counts_.probes;
    phase_ = Phase::running;
    since_probe_ = 0.0;
    const double running = std::min(median(recent_), median(after_));
    const bool won = median(probe_) < running * (1.0 - options_.margin);
    if (!won && wins_ > 0) ++counts_.unrepeated_wins;
    wins_ = won ? wins_ + 1 : 0;
    if (wins_ >= options_.wins_to_switch) {
        wins_ = 0;
        streaming_ = !streaming_;
        ++counts_.switches;
        settle_left_ = options_.settle_steps;  // its first step reads what the old kind wrote
        recent_.assign(probe_.begin(), probe_.end());
        interval_ = options_.min_interval_seconds;
    } else {
        recent_.assign(after_.begin(), after_.end());
        if (!won) interval_ = std::clamp(interval_ * 2.0, options_.min_interval_seconds, options_.max_interval_seconds);
    }
    recent_next_ = 0;
    probe_.clear();
    after_.clear();
}

}  // namespace mlptrain
