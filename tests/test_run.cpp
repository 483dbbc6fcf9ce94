// The library's run API without the command line: the settings table and its defaults, the
// text form of a configuration, the rules of prepare_run (batch clamp before the linear
// scaling rule, schedule lengths, standardization, class checks), fit with an observer that
// stops and resumes, and evaluate/predict on a saved model.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "mlptrain/mlptrain.hpp"
#include "test_support.hpp"

using namespace mlptrain;
using test_support::data_path;
using test_support::TempDir;

namespace {

// The message of the Error that `f` throws ("" if none).
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Asks the run to stop (request 1) once it has heard of step `after` (0: never); counts what
// it heard. The run stops at the next step boundary.
class Stopper : public RunObserver {
public:
    explicit Stopper(std::int64_t after) : after_(after) {}
    void on_start(const RunStart& start) override { started = start; }
    void on_step(const TrainState&, std::int64_t step) override { steps = step; }
    void on_epoch(const EpochReport&) override { ++epochs; }
    void on_checkpoint(const std::string&, double) override { ++checkpoints; }
    int stop_request() override { return after_ > 0 && steps >= after_ ? 1 : 0; }

    RunStart started;
    std::int64_t steps = 0;
    int epochs = 0, checkpoints = 0;

private:
    std::int64_t after_;
};

ModelData iris_file() {
    ModelData source;
    source.path = data_path("iris.csv");
    return source;
}

RunConfig iris_config(std::int64_t epochs) {
    RunConfig c;
    c.data = data_path("iris.csv");
    c.epochs = epochs;
    return c;
}

}  // namespace

// A default RunConfig holds the documented defaults (README, --help): they live in one table.
TEST_CASE("RunConfig starts at the documented defaults") {
    const RunConfig c;
    CHECK(c.layers == std::vector<std::int64_t>{64, 32});
    CHECK(c.epochs == 100);
    CHECK(c.batch_size == 16);
    CHECK(c.lr == 0.01f);
    CHECK(c.momentum == 0.9f);
    CHECK(c.weight_decay == 0.01f);
    CHECK(c.beta1 == 0.9f);
    CHECK(c.beta2 == 0.999f);
    CHECK(c.lr_gamma == 0.1f);
    CHECK(c.validation_fraction == 0.1);
    CHECK(c.test_fraction == 0.2);
    CHECK(c.standardize);
    CHECK(c.seed == 1);
    CHECK(c.keep_checkpoints == 3);
    CHECK(c.optimizer == OptimizerKind::sgd);
    CHECK(c.threads == 0);
    const Setting* batch = find_setting("batch-size");
    REQUIRE(batch != nullptr);
    CHECK(help_text(*batch) == "rows per optimizer step (default 16)");
    CHECK(find_setting_by_field("batch_size") == batch);
}

// The `key = value` form of the result-defining settings is exactly what checkpoints store
// (their bytes must not change), and it reads back to the same configuration.
TEST_CASE("config_lines: the checkpoint's text, read back exactly") {
    RunConfig c;
    c.data = "x.csv";
    CHECK(config_lines(c) ==
          "data = x.csv\nvalidation-fraction = 0.10000000000000001\ntest-fraction = 0.20000000000000001\n"
          "no-standardize = false\nlayers = 64,32\nactivation = relu\nloss = cross_entropy\ndropout = 0\n"
          "epochs = 100\nbatch-size = 16\nlr = 0.00999999978\nlr-reference-batch = 0\noptimizer = sgd\n"
          "momentum = 0.899999976\nnesterov = false\nweight-decay = 0.00999999978\nl2 = 0\nbeta1 = 0.899999976\n"
          "beta2 = 0.999000013\nschedule = constant\nwarmup-steps = 0\nlr-gamma = 0.100000001\nmin-lr = 0\n"
          "clip-norm = 0\npatience = 0\nseed = 1\n");
    c.layers = {7, 5, 3};
    c.lr = 0.123456789f;
    c.nesterov = true;
    c.standardize = false;
    c.init = InitKind::glorot_uniform;
    c.max_rows = 40;
    c.shards = 4;
    c.schedule = ScheduleKind::step;
    c.lr_step_epochs = 2;
    const std::string text = config_lines(c);
    CHECK(config_lines(config_from_text(text, "saved")) == text);
}

// A configuration text names its source and line for every problem.
TEST_CASE("parse_config_text: every error names the line") {
    CHECK(parse_config_text("# comment\n\nepochs = 5  # trailing\nlr=0.1\n", "f.cfg").size() == 2);
    const std::string no_equals = error_of([] { parse_config_text("epochs = 5\nbatch 16\n", "f.cfg"); });
    CHECK(no_equals.rfind("f.cfg, line 2: expected 'key = value'", 0) == 0);
    const std::string unknown = error_of([] { parse_config_text("\nepoch = 5\n", "f.cfg"); });
    CHECK(unknown.rfind("f.cfg, line 2: expected a setting's key, found 'epoch'", 0) == 0);
    const std::string twice = error_of([] { parse_config_text("lr = 1\nepochs = 2\nlr = 3\n", "f.cfg"); });
    CHECK(twice.rfind("f.cfg, line 3: expected each key once", 0) == 0);
    const std::string value = error_of([] { config_from_text("epochs = 5\nepochs2 = 1\n", "f.cfg"); });
    CHECK(value.rfind("f.cfg, line 2", 0) == 0);
    const std::string bad = error_of([] { config_from_text("\n\nepochs = many\n", "f.cfg"); });
    CHECK(bad == "f.cfg, line 3, key 'epochs': expected an integer, found 'many'");
}

// Library errors name the configuration field, never a flag.
TEST_CASE("configuration errors name the field") {
    RunConfig c = iris_config(1);
    c.batch_size = 0;
    try {
        validate(c);
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(e.field() == "batch_size");
        CHECK(std::string(e.what()).rfind("batch_size: expected a positive integer", 0) == 0);
    }
    c = iris_config(1);
    c.min_lr = 1.0f;
    const std::string message = error_of([&] { validate(c); });
    CHECK(message == "min_lr: expected a number from 0 to lr, found 1");
    CHECK(message.find("--") == std::string::npos);
}

// The batch is clamped to the training rows first; the linear scaling rule then uses the
// clamped batch (a batch larger than the data does not raise the learning rate).
TEST_CASE("resolve_train_config: clamp, then scale the learning rate") {
    RunConfig c;
    c.batch_size = 256;
    c.lr = 0.1f;
    c.lr_reference_batch = 128;
    std::vector<std::string> notes;
    const TrainConfig t = resolve_train_config(c, 100, notes);
    CHECK(t.batch_size == 100);
    CHECK(t.schedule.lr == 0.1f * 100.0f / 128.0f);
    REQUIRE(notes.size() == 1);
    CHECK(render_fields(notes[0], [](const std::string& f) { return "<" + f + ">"; }) ==
          "note: <batch_size> 256 is larger than the 100 training rows; each step uses all of them");
    notes.clear();
    c.batch_size = 64;
    CHECK(resolve_train_config(c, 1000, notes).schedule.lr == 0.1f * 64.0f / 128.0f);
    CHECK(notes.empty());
}

// The schedule's step counts come from the steps per epoch of the training rows.
TEST_CASE("resolve_train_config: schedule lengths in steps") {
    RunConfig c;
    c.batch_size = 16;
    c.epochs = 10;
    c.schedule = ScheduleKind::step;
    c.lr_step_epochs = 3;
    std::vector<std::string> notes;
    const TrainConfig t = resolve_train_config(c, 100, notes);  // 7 steps per epoch
    CHECK(t.schedule.step_every == 21);
    CHECK(t.schedule.total_steps == 70);
    CHECK(t.optimizer.momentum == 0.9f);
    CHECK(t.optimizer.weight_decay == 0.01f);
}

// prepare_run splits, standardizes with the training rows' statistics, and builds the spec.
TEST_CASE("prepare_run: split, standardization and spec") {
    const PreparedRun run = prepare_run(iris_config(5));
    CHECK(run.spec.sizes == std::vector<std::int64_t>{4, 64, 32, 3});
    CHECK(run.split.train.size() + run.split.validation.size() + run.split.test.size() == 150);
    CHECK(run.split.test.size() == 30);
    for (std::int64_t f = 0; f < 4; ++f) {
        double sum = 0.0;
        for (std::int64_t r : run.split.train) sum += run.data.x[static_cast<std::size_t>(r * 4 + f)];
        CHECK(std::fabs(sum / static_cast<double>(run.split.train.size())) < 1e-5);
    }
    CHECK(run.train.batch_size == 16);
    CHECK(run.saved_config == config_lines(run.config));
}

// Rules on the data: bce needs two classes; --max-rows must leave two classes.
TEST_CASE("prepare_run: class rules name the field") {
    RunConfig c = iris_config(1);
    c.loss = Loss::binary_cross_entropy;
    CHECK(error_of([&] { prepare_run(c); }) ==
          "loss bce: expected a dataset with exactly 2 classes, found 3 classes (hint: use loss cross_entropy for more classes)");
    c = iris_config(1);
    c.max_rows = 10;  // iris is sorted by class
    CHECK(error_of([&] { prepare_run(c); }).rfind("max_rows 10: expected rows of at least 2 classes", 0) == 0);
}

// fit: a stop request checkpoints and stops; the run resumed from that directory (through
// config.resume) ends on the weights of the uninterrupted run.
TEST_CASE("fit stops on request and resumes to the same weights") {
    const TempDir dir;
    RunObserver quiet;
    PreparedRun straight = prepare_run(iris_config(4));
    const FitResult full = fit(straight, quiet);
    CHECK(full.finished);
    REQUIRE(full.test.has_value());
    CHECK(full.test->rows == 30);

    RunConfig c = iris_config(4);
    c.checkpoint_dir = dir.path() + "/ckpt";
    PreparedRun first = prepare_run(c);
    Stopper stopper(10);  // 105 training rows: 7 steps per epoch
    const FitResult stopped = fit(first, stopper);
    CHECK_FALSE(stopped.finished);
    CHECK(stopped.stop_request == 1);
    CHECK(stopped.step == 11);
    CHECK(stopper.epochs == 1);
    CHECK(stopper.checkpoints == 2);  // the end of epoch 1, and the stop
    CHECK(stopper.started.parameters == 2499);

    RunConfig again = iris_config(4);
    again.resume = dir.path() + "/ckpt";
    PreparedRun resumed = prepare_run(again);
    CHECK(resumed.config.checkpoint_dir == again.resume);  // keeps checkpointing there
    Stopper listener(0);
    const FitResult rest = fit(resumed, listener);
    CHECK(listener.started.resumed);
    CHECK(listener.started.step == 11);
    CHECK(rest.finished);
    CHECK(rest.weights_fingerprint == full.weights_fingerprint);

    RunConfig other = again;
    other.lr = 0.5f;  // a resumed run keeps its configuration
    try {
        prepare_run(other);
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(e.field() == "lr");
    }
}

// A saved model evaluates and predicts with the library alone, the same on any thread count.
TEST_CASE("evaluate and predict a saved model") {
    const TempDir dir;
    RunConfig c = iris_config(20);
    c.checkpoint_dir = dir.path();
    PreparedRun run = prepare_run(c);
    RunObserver quiet;
    const FitResult result = fit(run, quiet);
    const SavedModel model = load_model(dir.path());
    CHECK(model.spec() == run.spec);
    CHECK(fingerprint(model.params(), static_cast<std::int64_t>(result.params.size())) == result.weights_fingerprint);

    const Dataset data = load_model_data(model, iris_file(), Labels::required);
    std::vector<std::int32_t> one, two;
    const EvalResult a = evaluate(model, data, 1, &one);
    const EvalResult b = evaluate(model, data, 2, &two);
    CHECK(a.rows == 150);
    CHECK(a.accuracy > 0.9);
    CHECK(a.loss == b.loss);
    CHECK(one == two);
    const Dataset features = load_model_data(model, iris_file(), Labels::optional);
    const std::vector<float> p1 = predict(model, features, 1);
    const std::vector<float> p2 = predict(model, features, 2);
    CHECK(p1.size() == 450);
    CHECK(p1 == p2);
}

// precision defines the result, but an fp32 run's text is what it was before the setting
// existed (older checkpoints read as fp32); gemm is an execution setting, like threads.
TEST_CASE("precision and gemm in the configuration text, and a resumed run's precision") {
    RunConfig c = iris_config(1);
    const std::string fp32 = config_lines(c);
    CHECK(fp32.find("precision") == std::string::npos);
    c.gemm = GemmBackend::onednn;
    CHECK(config_lines(c) == fp32);
    c.precision = GemmPrecision::bf16;
    const std::string bf16 = config_lines(c);
    CHECK(bf16.find("precision = bf16\n") != std::string::npos);
    CHECK(config_from_text(bf16, "saved").precision == GemmPrecision::bf16);
    CHECK(config_from_text(fp32, "saved").precision == GemmPrecision::fp32);
    CHECK_FALSE(config_from_text(bf16, "saved").gemm.has_value());
    // Resuming in another precision: refused by name, unless allowed; other settings still checked.
    check_same_configuration(bf16, bf16, "ckpt");
    try {
        check_same_configuration(bf16, fp32, "ckpt");
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(e.field() == "precision");
        CHECK(std::string(e.what()).find("bf16 as saved in ckpt, found fp32") != std::string::npos);
    }
    check_same_configuration(bf16, fp32, "ckpt", true);
    check_same_configuration(fp32, bf16, "ckpt", true);
    RunConfig other = c;
    other.lr = 0.5f;
    CHECK(error_of([&] { check_same_configuration(bf16, config_lines(other), "ckpt", true); }).rfind("lr:", 0) == 0);
}

// Settings written only when set (lr_step_epochs, no_fallback) are compared by key: the message
// names the one that changed and says which side has it unset, not the line that happens to
// sit at the same position on the other side.
TEST_CASE("a resumed run's changed optional setting is named, with its two values") {
    const RunConfig saved = iris_config(1);
    RunConfig added = saved;
    added.lr_step_epochs = 5;
    const std::string added_error =
        error_of([&] { check_same_configuration(config_lines(saved), config_lines(added), "ckpt"); });
    CHECK(added_error.rfind("lr_step_epochs:", 0) == 0);
    CHECK(added_error.find("expected it unset as saved in ckpt, found 'lr-step-epochs = 5'") != std::string::npos);
    CHECK(added_error.find("lr-gamma") == std::string::npos);
    RunConfig forced = saved;
    forced.precision = GemmPrecision::bf16;
    forced.no_fallback = true;
    RunConfig plain = forced;
    plain.no_fallback = false;
    const std::string dropped_error =
        error_of([&] { check_same_configuration(config_lines(forced), config_lines(plain), "ckpt"); });
    CHECK(dropped_error.rfind("no_fallback:", 0) == 0);
    CHECK(dropped_error.find("expected 'no-fallback = true' as saved in ckpt, found it unset") != std::string::npos);
}

// What prepare_run resolves: bf16 means oneDNN, unless the network is too small to gain.
TEST_CASE("select_gemm: bf16 on oneDNN, small networks in fp32 with a note") {
    ModelSpec big, tiny;
    big.sizes = {784, 1024, 1024, 10};
    tiny.sizes = {4, 16, 3};
    CHECK(bf16_gains(big, 128));
    CHECK(bf16_gains(big, 1));  // wide layers pay even for a single row
    CHECK_FALSE(bf16_gains(tiny, 16));
    std::vector<std::string> notes;
    CHECK(select_gemm({}, big, 128, notes) == GemmSettings{});
    CHECK(notes.empty());
    const GemmSettings fallback = select_gemm({std::nullopt, GemmPrecision::bf16, true}, tiny, 16, notes);
    CHECK(fallback == GemmSettings{});
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("running fp32") != std::string::npos);
    CHECK(error_of([&] { select_gemm({GemmBackend::openblas, GemmPrecision::bf16, true}, big, 128, notes); })
              .rfind("gemm: expected onednn", 0) == 0);
}
