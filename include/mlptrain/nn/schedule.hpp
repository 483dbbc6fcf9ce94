// Learning-rate schedules: constant, step decay and cosine, each with an optional linear
// warm-up. A pure function of the step, so a resumed run continues the same curve.
#pragma once

#include <cstdint>
#include <string>

namespace mlptrain {

enum class ScheduleKind { constant, step, cosine };

// The schedule's resolved settings (the documented defaults live in run/settings.cpp).
struct ScheduleConfig {
    ScheduleKind kind = ScheduleKind::constant;
    float lr = 0.0f;                  // peak learning rate (after warm-up)
    std::int64_t warmup_steps = 0;    // lr rises linearly from lr/warmup_steps to lr
    std::int64_t step_every = 0;      // step: multiply by gamma every step_every steps
    float gamma = 1.0f;               // step
    float min_lr = 0.0f;              // cosine: the floor reached at total_steps
    std::int64_t total_steps = 0;     // cosine: length of the whole run
};

// The learning rate of 0-based step t:
//   t < warmup:  lr·(t+1)/warmup
//   constant:    lr
//   step:        lr·gamma^⌊(t−warmup)/step_every⌋
//   cosine:      min + (lr−min)·½(1 + cos(π·(t−warmup)/(total−warmup)))
float learning_rate(const ScheduleConfig& s, std::int64_t t);

ScheduleKind parse_schedule(const std::string& name, const std::string& field);
const char* schedule_name(ScheduleKind kind);

}  // namespace mlptrain
