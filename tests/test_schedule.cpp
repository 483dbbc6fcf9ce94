// Tests for the learning-rate schedules: constant, step decay and cosine, each with and
// without linear warm-up, at chosen steps; and the schedule name parser.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/schedule.hpp"

using mlptrain::learning_rate;
using mlptrain::ScheduleConfig;
using mlptrain::ScheduleKind;

// constant: the same lr at every step.
TEST_CASE("constant schedule") {
    ScheduleConfig s;
    s.kind = ScheduleKind::constant;
    s.lr = 0.05f;
    for (std::int64_t t : {0, 1, 10, 100000}) CHECK(learning_rate(s, t) == 0.05f);
}

// Warm-up: step 0 gets lr/w, step w−1 gets lr, linear between; the schedule proper starts
// at step w.
TEST_CASE("linear warm-up") {
    ScheduleConfig s;
    s.kind = ScheduleKind::constant;
    s.lr = 0.4f;
    s.warmup_steps = 4;
    CHECK(learning_rate(s, 0) == doctest::Approx(0.1).epsilon(1e-7));
    CHECK(learning_rate(s, 1) == doctest::Approx(0.2).epsilon(1e-7));
    CHECK(learning_rate(s, 2) == doctest::Approx(0.3).epsilon(1e-7));
    CHECK(learning_rate(s, 3) == 0.4f);
    CHECK(learning_rate(s, 4) == 0.4f);
    CHECK(learning_rate(s, 50) == 0.4f);
}

// step: lr·γ^⌊(t − warmup)/every⌋, changing exactly at the boundaries.
TEST_CASE("step decay boundaries") {
    ScheduleConfig s;
    s.kind = ScheduleKind::step;
    s.lr = 1.0f;
    s.gamma = 0.5f;
    s.step_every = 10;
    CHECK(learning_rate(s, 0) == 1.0f);
    CHECK(learning_rate(s, 9) == 1.0f);
    CHECK(learning_rate(s, 10) == 0.5f);
    CHECK(learning_rate(s, 19) == 0.5f);
    CHECK(learning_rate(s, 20) == 0.25f);
    CHECK(learning_rate(s, 35) == 0.125f);
    SUBCASE("with warm-up the decay counts from the end of warm-up") {
        s.warmup_steps = 5;
        CHECK(learning_rate(s, 0) == doctest::Approx(0.2).epsilon(1e-7));
        CHECK(learning_rate(s, 4) == 1.0f);
        CHECK(learning_rate(s, 14) == 1.0f);
        CHECK(learning_rate(s, 15) == 0.5f);
        CHECK(learning_rate(s, 25) == 0.25f);
    }
    SUBCASE("gamma 0.1") {
        s.gamma = 0.1f;
        s.lr = 0.05f;
        CHECK(learning_rate(s, 25) == doctest::Approx(0.0005).epsilon(1e-6));
    }
}

// cosine: lr at the start, (lr+min)/2 half-way, min_lr at total_steps and after.
TEST_CASE("cosine schedule") {
    ScheduleConfig s;
    s.kind = ScheduleKind::cosine;
    s.lr = 0.1f;
    s.min_lr = 0.001f;
    s.total_steps = 100;
    CHECK(learning_rate(s, 0) == doctest::Approx(0.1).epsilon(1e-7));
    CHECK(learning_rate(s, 50) == doctest::Approx(0.0505).epsilon(1e-6));
    CHECK(learning_rate(s, 25) ==
          doctest::Approx(0.001 + 0.099 * 0.5 * (1 + std::cos(M_PI / 4))).epsilon(1e-6));
    CHECK(learning_rate(s, 100) == doctest::Approx(0.001).epsilon(1e-6));
    CHECK(learning_rate(s, 1000) == doctest::Approx(0.001).epsilon(1e-6));
    // Monotonically non-increasing over the run.
    for (std::int64_t t = 1; t <= 100; ++t) CHECK(learning_rate(s, t) <= learning_rate(s, t - 1));
    SUBCASE("with warm-up the cosine spans total − warmup steps") {
        s.warmup_steps = 20;
        CHECK(learning_rate(s, 0) == doctest::Approx(0.005).epsilon(1e-6));
        CHECK(learning_rate(s, 19) == doctest::Approx(0.1).epsilon(1e-7));
        CHECK(learning_rate(s, 20) == doctest::Approx(0.1).epsilon(1e-7));
        CHECK(learning_rate(s, 60) == doctest::Approx(0.0505).epsilon(1e-6));
        CHECK(learning_rate(s, 100) == doctest::Approx(0.001).epsilon(1e-6));
    }
}

// parse_schedule round-trips the names and rejects others naming the field.
TEST_CASE("parse_schedule") {
    for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine})
        CHECK(mlptrain::parse_schedule(mlptrain::schedule_name(k), "schedule") == k);
    std::string message;
    try {
        mlptrain::parse_schedule("linear", "schedule");
    } catch (const mlptrain::Error& e) {
        message = e.what();
    }
    CHECK(message.rfind("schedule: ", 0) == 0);
    CHECK(message.find("cosine") != std::string::npos);
    CHECK(message.find("linear") != std::string::npos);
}
