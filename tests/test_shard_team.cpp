// Tests for teams of threads sharing a shard's passes (engine/shard_team.hpp): the plan
// splits the big layers and covers every unit once; wherever its splits verify, a run with
// teams gives the weights of one thread (dropout, momentum, a partial last batch, a step that
// threw); where a split would change a bit (OpenBLAS's Haswell kernels), the plan is refused,
// the run says why and still gives one thread's weights.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/engine/shard_team.hpp"
#include "mlptrain/engine/trainer.hpp"
#include "bf16_here.hpp"
#include "blas_core_here.hpp"
#include "synthetic_data.hpp"

using namespace mlptrain;
using mlptrain::test::blas_core_runs_here;
using mlptrain::test::make_blobs;
using mlptrain::test::with_blas_core;

namespace {

ModelSpec spec_of(std::vector<std::int64_t> sizes, float dropout = 0.0f) {
    ModelSpec s;
    s.sizes = std::move(sizes);
    s.hidden_activation = Activation::relu;
    s.loss = Loss::softmax_cross_entropy;
    s.dropout = dropout;
    return s;
}

TrainConfig config_of(int threads, std::int64_t batch, std::int64_t shards, GemmSettings gemm) {
    TrainConfig c;
    c.epochs = 2;
    c.batch_size = batch;
    c.shards = shards;
    c.threads = threads;
    c.seed = 3;
    c.optimizer.kind = OptimizerKind::sgd;
    c.optimizer.momentum = 0.9f;
    c.optimizer.nesterov = true;
    c.schedule.lr = 0.05f;
    c.gemm = gemm;
    return c;
}

std::vector<std::int64_t> range(std::int64_t n) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

// A GEMM configuration whose block splits the AVX-512 kernels and oneDNN give exactly.
struct Kernels {
    std::string name;
    std::string core;  // OpenBLAS core to switch to ("" = leave it)
    GemmSettings gemm;
};

// The configurations this machine and build can run where teams are expected to verify
// (none: the case has nothing to run, and says so).
std::vector<Kernels> exact_kernels() {
    std::vector<Kernels> k;
    if (blas_core_runs_here("SkylakeX")) k.push_back({"OpenBLAS SkylakeX", "SkylakeX", {}});
    if (onednn_built()) k.push_back({"oneDNN fp32", "", {GemmBackend::onednn, GemmPrecision::fp32}});
    if (test::bf16_runs_here()) k.push_back({"oneDNN bf16", "", {GemmBackend::onednn, GemmPrecision::bf16}});
    if (k.empty()) MESSAGE("skipped: no AVX-512 OpenBLAS core and no oneDNN here");
    return k;
}

void run_with(const Kernels& k, const std::function<void()>& body) {
    if (k.core.empty()) body();
    else with_blas_core(k.core, body);
}

bool mentions(const std::vector<std::string>& notices, const std::string& text) {
    for (const std::string& n : notices)
        if (n.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

// Every unit of every layer's weight gradient is in exactly one member's blocks; returns the
// member holding layer l's last block.
static int check_unit_cover(const Model& model, const ShardTeamPlan& plan, int l) {
    std::vector<int> owners(static_cast<std::size_t>(model.dim_out(l)), 0);
    int holder = -1;
    for (int m = 0; m < plan.members; ++m)
        for (const UnitBlock& u : plan.unit_blocks[static_cast<std::size_t>(m)])
            if (u.layer == l) {
                for (std::int64_t j = u.begin; j < u.end; ++j) ++owners[static_cast<std::size_t>(j)];
                holder = m;
            }
    for (int count : owners) CHECK(count == 1);
    return holder;
}

// 784-1024-1024-10, a shard of 128 rows. With 2 members the row blocks are 64 rows: both
// hidden layers split by rows, with no join between them; the 10-unit output layer runs
// whole on member 0 (its blocks would be tiny). With 8 members the row blocks would be 16
// rows, so the hidden layers split by units, a join around each. Every unit of every weight
// gradient is in exactly one block, the output layer's with a member other than 0.
TEST_CASE("a team plan splits the big layers and covers every unit once") {
    using K = TeamOp::Kind;
    const Model model(spec_of({784, 1024, 1024, 10}));
    const ShardTeamPlan two = make_team_plan(model, 128, 2);
    REQUIRE(two.members == 2);
    CHECK(two.layer_split == std::vector<LayerSplit>{LayerSplit::rows, LayerSplit::rows, LayerSplit::whole});
    REQUIRE(two.stages.size() == 4);
    CHECK(two.stages[0].split == LayerSplit::rows);  // gather, forward of layers 0 and 1
    CHECK(two.stages[0].ops.size() == 3);
    CHECK(two.stages[1].split == LayerSplit::whole);  // layer 2 forward, the loss, layer 2's dX
    CHECK(two.stages[1].ops.size() == 3);
    CHECK(two.stages[1].ops[1].kind == K::loss);
    CHECK(two.stages[2].split == LayerSplit::rows);  // layer 1's dX and layer 0's delta
    CHECK(two.stages[3].weight_gradients);
    CHECK(two.member_rows(0).row_end == 64);
    CHECK(two.member_rows(1).row_begin == 64);
    CHECK(two.member_rows(1).row_end == 128);

    const ShardTeamPlan eight = make_team_plan(model, 128, 8);
    REQUIRE(eight.members == 8);
    CHECK(eight.layer_split == std::vector<LayerSplit>{LayerSplit::units, LayerSplit::units, LayerSplit::whole});
    REQUIRE(eight.stages.size() == 6);
    const std::vector<std::vector<K>> kinds{{K::gather}, {K::forward}, {K::forward}, {K::forward, K::loss, K::backward},
                                            {K::backward}, {}};
    for (std::size_t i = 0; i < kinds.size(); ++i) {
        CAPTURE(i);
        REQUIRE(eight.stages[i].ops.size() == kinds[i].size());
        for (std::size_t j = 0; j < kinds[i].size(); ++j) CHECK(eight.stages[i].ops[j].kind == kinds[i][j]);
    }
    CHECK(eight.stages[1].split == LayerSplit::units);
    CHECK(eight.stages[3].split == LayerSplit::whole);
    CHECK(eight.member_units(3).unit_begin(1024) == 384);
    CHECK(eight.member_units(3).unit_end(1024) == 512);
    for (const ShardTeamPlan* plan : {&two, &eight})
        for (int l = 0; l < model.num_layers(); ++l) {
            const int holder = check_unit_cover(model, *plan, l);
            if (l == 2) CHECK(holder != 0);
        }
    // A split the check refuses is not made: layer 1 by units refused, it goes by rows.
    const ShardTeamPlan refused = make_team_plan(model, 128, 8, [](int l, LayerSplit s, bool) {
        return !(l == 1 && s == LayerSplit::units);
    });
    CHECK(refused.layer_split == std::vector<LayerSplit>{LayerSplit::units, LayerSplit::rows, LayerSplit::whole});
    // Too small to split anywhere: no team.
    CHECK(make_team_plan(Model(spec_of({4, 16, 3})), 64, 4).members == 1);
    CHECK(make_team_plan(model, 8, 16).members == 1);  // fewer rows than members
}

// Wherever the splits verify, teams of 2 and 4 threads give the weights of one thread, over
// two epochs with dropout, Nesterov momentum and a partial last batch (shards of 22 rows,
// which get a plan of their own).
TEST_CASE("teams give the weights of one thread") {
    const std::vector<Kernels> kernels = exact_kernels();
    if (kernels.empty()) return;
    const Model model(spec_of({64, 512, 256, 3}, 0.1f));
    const Dataset data = make_blobs(300, 64, 3);
    Split split;
    split.train = range(300);
    for (const Kernels& k : kernels) {
        CAPTURE(k.name);
        run_with(k, [&] {
            std::string one_thread;
            for (int threads : {1, 4, 8}) {
                CAPTURE(threads);
                Trainer trainer(model, config_of(threads, 128, 2, k.gemm), 0);
                trainer.fit(data, split, [](const EpochReport&) {});
                if (threads == 1) {
                    one_thread = trainer.weights_fingerprint();
                    CHECK(trainer.shard_team() == 1);
                    continue;
                }
                CHECK(trainer.shard_team() == threads / 2);
                CHECK(trainer.team_check_seconds() > 0);  // the check ran, and the note says how long
                CHECK(mentions(trainer.notices(), " ms)"));
                CHECK(mentions(trainer.notices(), "a team of " + std::to_string(threads / 2) + " threads"));
                CHECK(trainer.weights_fingerprint() == one_thread);
                CHECK(trainer.gemm_created_on_demand() == 0);
            }
        });
    }
}

// A step that finds NaN in a team's gradient changes nothing, and the steps after it (whose
// weight-gradient blocks overwrite the dirty buffers instead of adding onto zeros) give the
// bits of a trainer that never saw it.
TEST_CASE("a team's step after a NumericError gives a fresh trainer's bits") {
    const std::vector<Kernels> kernels = exact_kernels();
    if (kernels.empty()) return;
    const Model model(spec_of({64, 512, 256, 3}));
    const Dataset good = make_blobs(128, 64, 3);
    Dataset bad = good;
    bad.x[64 * 100 + 2] = std::numeric_limits<float>::quiet_NaN();  // row 100: the second shard
    const std::vector<std::int64_t> rows = range(128);
    run_with(kernels.front(), [&] {
        const TrainConfig config = config_of(4, 128, 2, kernels.front().gemm);
        Trainer recovered(model, config, 0), fresh(model, config, 0);
        REQUIRE(recovered.shard_team() == 2);
        recovered.train_step(good, rows.data(), 128);
        fresh.train_step(good, rows.data(), 128);
        const std::string before = recovered.weights_fingerprint();
        CHECK_THROWS_AS(recovered.train_step(bad, rows.data(), 128), NumericError);
        CHECK(recovered.weights_fingerprint() == before);
        for (int step = 0; step < 2; ++step) {
            recovered.train_step(good, rows.data(), 128);
            fresh.train_step(good, rows.data(), 128);
        }
        CHECK(recovered.weights_fingerprint() == fresh.weights_fingerprint());
    });
}

// OpenBLAS's Haswell kernels give blocks of rows or units of 784-1024-1024-10's GEMMs other
// bits than the whole GEMMs at 128 rows a shard (for some smaller shapes they give the same
// bits, and the plan then uses them): the plan is refused with the reason, the run says its
// threads idle and why, and its weights are one thread's.
TEST_CASE("a split that would change the bits is refused") {
    if (!blas_core_runs_here("Haswell")) {
        MESSAGE("skipped: this CPU cannot run OpenBLAS's Haswell kernels");
        return;
    }
    const Model model(spec_of({784, 1024, 1024, 10}));
    const Dataset data = make_blobs(300, 784, 3);
    Split split;
    split.train = range(300);
    with_blas_core("Haswell", [&] {
        Workspace ws(model, 128, 0);
        ws.enable_team(model, 2);
        std::string why;
        const ShardTeamPlan plan = plan_shard_team(ws, model, 128, 2, &why);
        CHECK(plan.members == 1);
        CHECK(why.find("in blocks give other bits than the whole GEMMs") != std::string::npos);
        TrainConfig config = config_of(1, 256, 2, {});
        config.epochs = 1;
        Trainer one(model, config, 0);
        config.threads = 4;
        Trainer four(model, config, 0);
        CHECK(four.shard_team() == 1);
        CHECK(mentions(four.notices(), "2 thread(s) will idle (no team of threads per shard: layers."));
        one.fit(data, split, [](const EpochReport&) {});
        four.fit(data, split, [](const EpochReport&) {});
        CHECK(one.weights_fingerprint() == four.weights_fingerprint());
    });
}

// shard_teams = false keeps the extra threads idle, with the same weights.
TEST_CASE("teams can be turned off") {
    const std::vector<Kernels> kernels = exact_kernels();
    if (kernels.empty()) return;
    const Model model(spec_of({64, 512, 256, 3}));
    run_with(kernels.front(), [&] {
        TrainConfig config = config_of(4, 128, 2, kernels.front().gemm);
        config.shard_teams = false;
        Trainer off(model, config, 0);
        CHECK(off.shard_team() == 1);
        CHECK(mentions(off.notices(), "teams are off"));
    });
}
