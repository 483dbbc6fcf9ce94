// Tests for the weight-store tuner (engine/weight_stores.hpp): fed step times, it keeps
// streaming stores while they are as fast, switches to plain ones when those are faster
// by more than its margin (two probes in a row), comes back when the host moves the cores
// again, probes ever less often while nothing changes, and is not fooled by one slow step
// or by one probe that a wandering host made look faster.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "mlptrain/core/error.hpp"
#include "mlptrain/engine/weight_stores.hpp"

using mlptrain::WeightStores;
using mlptrain::WeightStoreTuner;

namespace {

// Runs `steps` steps, each taking the time `time(streaming, step)` says for the kind the
// tuner asks for; returns how many of them ran with streaming stores.
std::int64_t run(WeightStoreTuner& tuner, std::int64_t steps,
                 const std::function<double(bool, std::int64_t)>& time) {
    std::int64_t streaming = 0;
    for (std::int64_t i = 0; i < steps; ++i) {
        const bool s = tuner.streaming();
        streaming += s ? 1 : 0;
        tuner.record(time(s, i));
    }
    return streaming;
}

// Probes of 3 steps with no settle step and no interval: every window of the running kind
// is followed by a probe, so that a test can place the host's changes step by step.
WeightStoreTuner::Options instant_options() {
    WeightStoreTuner::Options options;
    options.probe_steps = 3;
    options.settle_steps = 0;
    options.first_probe_seconds = options.min_interval_seconds = options.max_interval_seconds = 0.0;
    return options;
}

// A step of 1 ms with the faster kind, `slower` times that with the other.
std::function<double(bool, std::int64_t)> faster(bool streaming_faster, double slower) {
    return [=](bool s, std::int64_t) { return s == streaming_faster ? 1e-3 : 1e-3 * slower; };
}

}  // namespace

TEST_CASE("names and parsing of the weight stores") {
    for (WeightStores s : {WeightStores::automatic, WeightStores::streaming, WeightStores::plain})
        CHECK(mlptrain::parse_weight_stores(mlptrain::weight_stores_name(s), "weight_stores") == s);
    CHECK(mlptrain::weight_stores_name(WeightStores::automatic) == "auto");
    try {
        mlptrain::parse_weight_stores("fast", "weight_stores");
        FAIL("no error");
    } catch (const mlptrain::ConfigError& e) {
        const std::string message = e.what();
        CHECK(e.field() == "weight_stores");
        CHECK(message.find("auto, streaming or plain") != std::string::npos);
        CHECK(message.find("'fast'") != std::string::npos);
    }
}

TEST_CASE("streaming stores stay while plain ones are no faster") {
    WeightStoreTuner tuner;
    CHECK(tuner.streaming());
    // Plain stores 20 % slower (the cores apart): 10,000 steps of 1 ms, 10 s.
    const std::int64_t streaming = run(tuner, 10000, faster(true, 1.2));
    CHECK(tuner.streaming());
    CHECK(tuner.switches() == 0);
    // Probes at 0.05 s, then 0.25, 0.5, 1, 2 and 4 s apart (the next 8 s on): 6 in 10 s,
    // 8 steps each.
    CHECK(tuner.probes() == 6);
    CHECK(streaming == 10000 - 8 * tuner.probes());
    CHECK(tuner.streaming_steps() == streaming);
    CHECK(tuner.plain_steps() == 10000 - streaming);
}

TEST_CASE("plain stores win when faster, and streaming ones win back") {
    WeightStoreTuner tuner;
    // The cores close: plain stores 10 % faster. The first probe (at 0.05 s) wins, the one
    // right after it wins again and switches (a switch after one win would probe next at
    // 0.3 s, not within these 0.1 s).
    run(tuner, 100, faster(false, 1.1));
    CHECK_FALSE(tuner.streaming());
    CHECK(tuner.probes() == 2);
    CHECK(tuner.switches() == 1);
    CHECK(tuner.unrepeated_wins() == 0);
    // Stays with plain stores: about 1 s of steps, streaming only in the probes.
    const std::int64_t probes = tuner.probes();
    const std::int64_t streaming = run(tuner, 1000, faster(false, 1.1));
    CHECK_FALSE(tuner.streaming());
    CHECK(tuner.switches() == 1);
    CHECK(streaming == 8 * (tuner.probes() - probes));
    // The host moves the cores apart: plain stores 20 % slower. The next probe is at most
    // 1 s away (the interval after the lost probes so far: 0.25, 0.5, 1), and with the one
    // right after it switches back.
    std::int64_t steps = 0;
    for (; tuner.switches() < 2 && steps < 2000; ++steps) run(tuner, 1, faster(true, 1.2));
    CHECK(tuner.switches() == 2);
    CHECK(tuner.streaming());
    CHECK(steps <= 1000 + 2 * 16 + 1);
    // After a switch it probes again soon (0.25 s: 250 streaming steps, then the probe's 8
    // and the 8 after it; the next is 0.5 s later).
    const std::int64_t before = tuner.probes();
    run(tuner, 250 + 2 * 8 + 3, faster(true, 1.2));
    CHECK(tuner.probes() == before + 1);
    CHECK(tuner.streaming());
}

TEST_CASE("a difference within the margin does not switch") {
    WeightStoreTuner tuner;
    run(tuner, 20000, faster(false, 1.015));  // plain 1.5 % faster; the margin is 2 %
    CHECK(tuner.streaming());
    CHECK(tuner.switches() == 0);
    WeightStoreTuner::Options options;
    options.margin = 0.01;
    WeightStoreTuner keen(options);
    run(keen, 200, faster(false, 1.015));
    CHECK_FALSE(keen.streaming());
    CHECK(keen.switches() == 1);
}

TEST_CASE("one slow step does not decide") {
    // Equal kinds, but the first step of every change of kind takes 10× as long (its passes
    // read what the other kind wrote) and one probe step in four is 3× slower: medians of 7
    // after a settle step do not switch.
    WeightStoreTuner tuner;
    bool last = tuner.streaming();
    std::int64_t probe_steps = 0;
    run(tuner, 20000, [&](bool s, std::int64_t) {
        const bool changed = s != last;
        last = s;
        if (changed) return 10e-3;
        if (s != true && ++probe_steps % 4 == 0) return 3e-3;
        return 1e-3;
    });
    CHECK(tuner.streaming());
    CHECK(tuner.switches() == 0);
    CHECK(tuner.probes() >= 7);
}

TEST_CASE("with no interval it probes after every window of the running kind") {
    WeightStoreTuner::Options options;
    options.probe_steps = 3;
    options.settle_steps = 2;
    options.first_probe_seconds = 0.0;
    options.min_interval_seconds = 0.0;
    options.max_interval_seconds = 0.0;
    WeightStoreTuner tuner(options);
    // Equal kinds: 3 streaming steps fill the window; the probe runs 2 + 3 plain steps (2
    // settle, 3 measured), then 2 + 3 streaming ones; it loses (no faster), and the next
    // streaming step, entering the window, starts the next probe: 13 steps, then 11 a cycle.
    const std::int64_t streaming = run(tuner, 3 + 5 + 5, faster(true, 1.0));
    CHECK(streaming == 3 + 5);
    CHECK(tuner.probes() == 1);
    CHECK(tuner.streaming());
    run(tuner, 1, faster(true, 1.0));
    CHECK_FALSE(tuner.streaming());  // probing
    run(tuner, 5 + 5, faster(true, 1.0));
    CHECK(tuner.probes() == 2);
    CHECK(tuner.streaming_steps() == 8 + 1 + 5);
    CHECK(tuner.plain_steps() == 5 + 5);
    // Plain stores 50 % faster from here: the next probe loses (the window before it still
    // holds the older, equal times), the one after wins, and the one after that wins again
    // and switches.
    run(tuner, 11, faster(false, 1.5));
    CHECK(tuner.probes() == 3);
    CHECK(tuner.switches() == 0);
    run(tuner, 11, faster(false, 1.5));
    CHECK(tuner.probes() == 4);
    CHECK(tuner.switches() == 0);
    CHECK(tuner.streaming());
    run(tuner, 11, faster(false, 1.5));
    CHECK(tuner.probes() == 5);
    CHECK(tuner.switches() == 1);
    CHECK_FALSE(tuner.streaming());
}

TEST_CASE("one probe that a wandering host made faster does not switch") {
    // Equal kinds; the host runs 10 % faster for exactly the steps of the first probe (a dip
    // between the windows before and after it): that probe wins, the one right after it
    // loses, and streaming stores stay. With wins_to_switch = 1 the same host switches.
    WeightStoreTuner::Options options = instant_options();
    std::int64_t step = 0;  // across run() calls
    auto host = [&](bool, std::int64_t) {
        ++step;
        return step > 3 && step <= 6 ? 0.9e-3 : 1e-3;
    };
    WeightStoreTuner tuner(options);
    // 3 steps, the probe's 3, 3 after it; one more step starts the second probe at once.
    run(tuner, 3 + 3 + 3, host);
    CHECK(tuner.probes() == 1);
    CHECK(tuner.streaming());
    run(tuner, 1, host);
    CHECK_FALSE(tuner.streaming());  // the win is probed again right away
    run(tuner, 3 + 3, host);
    CHECK(tuner.probes() == 2);
    CHECK(tuner.switches() == 0);
    CHECK(tuner.unrepeated_wins() == 1);
    CHECK(tuner.streaming());
    options.wins_to_switch = 1;
    WeightStoreTuner hasty(options);
    step = 0;
    run(hasty, 3 + 3 + 3, host);
    CHECK(hasty.switches() == 1);
    CHECK_FALSE(hasty.streaming());
}

TEST_CASE("a host that speeds up during a probe does not make the probed kind win") {
    // Equal kinds; the host runs 10 % faster from the probe's first measured step on. The
    // probe beats the window before it, but not the running kind's steps after it.
    WeightStoreTuner tuner(instant_options());
    std::int64_t step = 0;
    run(tuner, 3 + 3 + 3, [&](bool, std::int64_t) { return ++step > 3 ? 1e-3 : 1.1e-3; });
    CHECK(tuner.probes() == 1);
    CHECK(tuner.switches() == 0);
    CHECK(tuner.streaming());
}
