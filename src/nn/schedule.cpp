// Learning-rate schedules (see schedule.hpp).
#include "mlptrain/nn/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {

float learning_rate(const ScheduleConfig& s, std::int64_t t) {
    if (t < s.warmup_steps)
        return s.lr * static_cast<float>(t + 1) / static_cast<float>(s.warmup_steps);
    const std::int64_t since = t - s.warmup_steps;
    switch (s.kind) {
        case ScheduleKind::constant: return s.lr;
        case ScheduleKind::step: {
            if (s.step_every <= 0) return s.lr;
            return s.lr * static_cast<float>(std::pow(static_cast<double>(s.gamma),
                                                      static_cast<double>(since / s.step_every)));
        }
        case ScheduleKind::cosine: {
            const std::int64_t span = s.total_steps - s.warmup_steps;
            if (span <= 0) return s.lr;
            const double progress = std::min(1.0, static_cast<double>(since) / static_cast<double>(span));
            const double pi = 3.14159265358979323846;
            return static_cast<float>(s.min_lr + (s.lr - s.min_lr) * 0.5 * (1.0 + std::cos(pi * progress)));
        }
    }
    return s.lr;
}

ScheduleKind parse_schedule(const std::string& name, const std::string& field) {
    if (name == "constant") return ScheduleKind::constant;
    if (name == "step") return ScheduleKind::step;
    if (name == "cosine") return ScheduleKind::cosine;
    throw ConfigError(field, "one of constant, step, cosine", quote(name));
}

const char* schedule_name(ScheduleKind kind) {
    switch (kind) {
        case ScheduleKind::constant: return "constant";
        case ScheduleKind::step: return "step";
        case ScheduleKind::cosine: return "cosine";
    }
    return "?";
}

}  // namespace mlptrain
