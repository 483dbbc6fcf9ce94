// How the update writes the weights that every worker thread's next passes read: with
// streaming stores or plain ones, chosen by measuring the steps.
//
// Why measure: which is faster depends on where the cores sit, which the host of a VM
// changes while a run goes on. When the cores share no cache (on the project's 2-vCPU Zen 5
// VM most of the time, a cache line's round trip between them 350-600 ns), a plain store
// to a line the other core has read waits for that copy to be invalidated, one line after
// another, and streaming stores, which invalidate every copy as part of the write, make the
// step 15-20 % faster (core/stream_store.hpp). When they share a cache (round trip 50-80
// ns) the invalidation is cheap, and streaming stores only send the weights to memory,
// from where both cores read them again in the next passes. Both kinds write the same
// values: the choice changes the speed, never the bits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlptrain {

enum class WeightStores {
    automatic,  // measure both kinds now and then; run the faster (WeightStoreTuner)
    streaming,
    plain,
};

std::string weight_stores_name(WeightStores stores);  // "auto", "streaming", "plain"
// The inverse; throws ConfigError naming `field` for anything else.
WeightStores parse_weight_stores(const std::string& text, const std::string& field);

// What a tuner did: steps recorded with each kind, probes run, switches made, and wins that
// the probe after them did not repeat (so they switched nothing).
struct WeightStoreCounts {
    std::int64_t streaming_steps = 0, plain_steps = 0, probes = 0, switches = 0, unrepeated_wins = 0;

    WeightStoreCounts operator-(const WeightStoreCounts& o) const {
        return {streaming_steps - o.streaming_steps, plain_steps - o.plain_steps, probes - o.probes,
                switches - o.switches, unrepeated_wins - o.unrepeated_wins};
    }
};

// Picks the kind of stores for each step from the wall times of the steps before. It runs
// one kind (streaming first) and now and then probes the other for a few steps: after
// `settle_steps` (whose passes still read weights the previous kind wrote) it takes the
// median of `probe_steps` step times, then goes back to the kind it runs and, after as
// many settle steps, takes the median of `probe_steps` more. The other kind wins when its
// median is lower by more than `margin` (a fraction) than both the running kind's median
// before the probe and after it (so that a host speeding up or slowing down in between
// does not decide). A win is probed again at once, and only `wins_to_switch` wins in a
// row make the other kind the one that runs (a host whose speed wanders on the scale of
// one probe wins one now and then, rarely two in a row). The time between
// probes, counted in the recorded seconds, starts at `first_probe_seconds`, doubles after
// every probe that loses, up to `max_interval_seconds`, and falls back to
// `min_interval_seconds` after a switch: a placement that changes is found within
// seconds, and one that stays costs a few probe steps every `max_interval_seconds`.
//
// A state machine over the recorded times, with no clock of its own: the trainer records
// the wall time of each full-batch step (partial batches and steps that threw are not
// comparable and are left out).
class WeightStoreTuner {
public:
    struct Options {
        int settle_steps = 1;
        int probe_steps = 7;
        int wins_to_switch = 2;
        double margin = 0.02;
        double first_probe_seconds = 0.05;
        double min_interval_seconds = 0.25;
        double max_interval_seconds = 8.0;
    };

    WeightStoreTuner();
    explicit WeightStoreTuner(const Options& options);

    // The kind of stores for the next step: true for streaming.
    bool streaming() const { return phase_ == Phase::probing ? !streaming_ : streaming_; }
    // The wall time of a full-batch step that ran with streaming().
    void record(double step_seconds);

    const WeightStoreCounts& counts() const { return counts_; }
    std::int64_t streaming_steps() const { return counts_.streaming_steps; }
    std::int64_t plain_steps() const { return counts_.plain_steps; }
    std::int64_t probes() const { return counts_.probes; }
    std::int64_t switches() const { return counts_.switches; }
    std::int64_t unrepeated_wins() const { return counts_.unrepeated_wins; }

private:
    enum class Phase { running, probing, returning };
    double median(const std::vector<double>& times);
    void decide();

    Options options_;
    bool streaming_ = true;  // the kind that runs between probes
    Phase phase_ = Phase::running;  // probing: the next steps run the other kind
    int settle_left_ = 0;    // steps still to leave out after a change of kind
    int wins_ = 0;           // probes in a row that the other kind won
    std::vector<double> recent_;  // the last probe_steps times of the running kind (a ring)
    std::size_t recent_next_ = 0;
    std::vector<double> probe_;   // this probe's times
    std::vector<double> after_;   // the running kind's times right after it
    std::vector<double> scratch_;  // median()'s copy
    double since_probe_ = 0.0;    // seconds recorded since the last probe ended
    double interval_ = 0.0;       // seconds between probes
    WeightStoreCounts counts_;
};

}  // namespace mlptrain
