// Defaults and validation of a run's configuration (see config.hpp).
#include "mlptrain/run/config.hpp"

#include <charconv>
#include <cmath>

#include "mlptrain/core/error.hpp"

namespace mlptrain {

RunConfig::RunConfig() {
    // Defaults under which `mlptrain train --data data/iris.csv` trains well; chosen on the
    // bundled datasets (tests/test_accuracy.cpp holds them to their accuracy floors).
    train.epochs = 100;
    train.batch_size = 16;
    train.schedule.lr = 0.01f;
    train.optimizer.momentum = 0.9f;
    train.optimizer.weight_decay = 0.01f;
}

std::vector<std::int64_t> parse_layer_sizes(const std::string& text, const std::string& flag) {
    std::vector<std::int64_t> sizes;
    std::size_t start = 0;
    const std::string hint = "give positive layer widths separated by commas, e.g. 64,32";
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || ec != std::errc() || end != item.data() + item.size())
            throw Error(describe(flag, "a positive integer for every layer", "'" + item + "' in '" + text + "'", hint));
        if (value <= 0 || value > (1 << 20))
            throw Error(describe(flag, "layer widths from 1 to 1048576", std::to_string(value) + " in '" + text + "'", hint));
        sizes.push_back(value);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return sizes;
}

static void require(bool ok, const std::string& flag, const std::string& expected,
                    const std::string& found, const std::string& hint = "") {
    if (!ok) throw Error(describe(flag, expected, found, hint));
}

static std::string num(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

void validate(const RunConfig& c) {
    const bool split_file = !c.data.empty();
    const bool separate = !c.train_data.empty();
    require(split_file || separate, "--data", "a data file (or --train-data with --test-data)",
            "none", "mlptrain train --data data/iris.csv");
    require(!(split_file && separate), "--data", "either --data or --train-data, not both",
            "both");
    require(c.test_data.empty() || separate, "--test-data", "--train-data beside it", "--test-data alone");
    require(c.validation_fraction >= 0 && c.validation_fraction < 1, "--validation-fraction",
            "a number in [0, 1)", num(c.validation_fraction));
    require(c.test_fraction >= 0 && c.test_fraction < 1, "--test-fraction", "a number in [0, 1)",
            num(c.test_fraction));
    require(c.validation_fraction + c.test_fraction < 1, "--validation-fraction",
            "validation + test fractions below 1", num(c.validation_fraction + c.test_fraction),
            "leave some rows for training");
    require(c.max_rows >= 0, "--max-rows", "a non-negative integer", std::to_string(c.max_rows));
    require(c.dropout >= 0 && c.dropout < 1, "--dropout", "a probability in [0, 1)", num(c.dropout));
    const TrainConfig& t = c.train;
    require(t.epochs >= 1, "--epochs", "a positive integer", std::to_string(t.epochs));
    require(t.batch_size >= 1 && t.batch_size <= (1 << 24), "--batch-size", "a positive integer up to 16777216",
            std::to_string(t.batch_size));
    require(t.shards >= 0, "--shards", "a positive integer (or 0 for the default)", std::to_string(t.shards));
    require(t.shards == 0 || t.shards <= t.batch_size, "--shards", "at most --batch-size shards",
            std::to_string(t.shards), "a shard holds at least one row of a full batch");
    require(t.threads >= 0 && t.threads <= 1024, "--threads", "an integer from 1 to 1024",
            std::to_string(t.threads));
    require(std::isfinite(t.schedule.lr) && t.schedule.lr > 0, "--lr", "a positive number",
            num(t.schedule.lr));
    require(t.optimizer.momentum >= 0 && t.optimizer.momentum < 1, "--momentum", "a number in [0, 1)",
            num(t.optimizer.momentum));
    require(!t.optimizer.nesterov || t.optimizer.momentum > 0, "--nesterov", "--momentum above 0",
            num(t.optimizer.momentum));
    require(t.optimizer.weight_decay >= 0 && std::isfinite(t.optimizer.weight_decay), "--weight-decay",
            "a non-negative number", num(t.optimizer.weight_decay));
    require(t.optimizer.l2 >= 0 && std::isfinite(t.optimizer.l2), "--l2", "a non-negative number",
            num(t.optimizer.l2));
    require(t.optimizer.beta1 >= 0 && t.optimizer.beta1 < 1, "--beta1", "a number in [0, 1)", num(t.optimizer.beta1));
    require(t.optimizer.beta2 >= 0 && t.optimizer.beta2 < 1, "--beta2", "a number in [0, 1)", num(t.optimizer.beta2));
    require(t.clip_norm >= 0 && std::isfinite(t.clip_norm), "--clip-norm", "a non-negative number", num(t.clip_norm));
    require(t.patience >= 0, "--patience", "a non-negative integer", std::to_string(t.patience));
    require(t.schedule.warmup_steps >= 0, "--warmup-steps", "a non-negative integer",
            std::to_string(t.schedule.warmup_steps));
    require(t.schedule.gamma > 0 && t.schedule.gamma <= 1, "--lr-gamma", "a number in (0, 1]", num(t.schedule.gamma));
    require(t.schedule.min_lr >= 0 && t.schedule.min_lr <= t.schedule.lr, "--min-lr",
            "a number from 0 to --lr", num(t.schedule.min_lr));
    require(c.checkpoint_every >= 0, "--checkpoint-every", "a non-negative number of steps",
            std::to_string(c.checkpoint_every));
    require(c.keep_checkpoints >= 1 && c.keep_checkpoints <= 1000000, "--keep-checkpoints",
            "an integer from 1 to 1000000",
            std::to_string(c.keep_checkpoints));
    require(c.checkpoint_every == 0 || !c.checkpoint_dir.empty(), "--checkpoint-every",
            "--checkpoint-dir DIR beside it", "no directory");
    require(c.lr_step_epochs >= 0, "--lr-step-epochs", "a positive integer",
            std::to_string(c.lr_step_epochs));
    require(t.schedule.kind != ScheduleKind::step || c.lr_step_epochs > 0, "--schedule step",
            "--lr-step-epochs N beside it", "none");
    require(c.lr_reference_batch >= 0, "--lr-reference-batch", "a non-negative integer",
            std::to_string(c.lr_reference_batch));
}

}  // namespace mlptrain
