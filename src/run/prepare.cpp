// The rules between a RunConfig and the trainer (see prepare.hpp): data, split,
// standardization, model spec, resolved training settings, and a resumed run's checks.
#include "mlptrain/run/prepare.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <system_error>

#include "mlptrain/core/error.hpp"
#include "mlptrain/data/csv.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/data/input.hpp"
#include "mlptrain/run/gemm_selection.hpp"
#include "mlptrain/run/settings.hpp"

namespace mlptrain {
namespace {

// A CSV file, or IDX images with their labels file (given, or found by the usual naming).
Dataset load_dataset(const std::string& path, const std::string& labels_path, const std::string& labels_field,
                     const CsvOptions& csv) {
    // Opened once and sniffed without consuming: --data may be a pipe, /dev/stdin or <(cmd).
    Input in = Input::open(path);
    if (!is_idx_input(in)) return load_csv(in, csv);
    const std::string labels = labels_path.empty() ? idx_labels_path_for(path) : labels_path;
    if (labels.empty())
        throw Error(describe(path, "an IDX labels file beside these IDX images", "none",
                             "name it with " + field_ref(labels_field) + " FILE"));
    Input labels_in = Input::open(labels);
    return load_idx(in, labels_in);
}

// --max-rows keeps the first rows; a file sorted by class may then hold only one class.
void keep_first_rows_of_classes(Dataset& data, std::int64_t max_rows) {
    keep_first_rows(data, max_rows);
    if (!data.is_classification()) return;
    std::vector<bool> present(static_cast<std::size_t>(data.num_classes()), false);
    for (std::int32_t label : data.labels) present[static_cast<std::size_t>(label)] = true;
    const auto count = std::count(present.begin(), present.end(), true);
    if (count < 2)
        throw Error(describe(field_ref("max_rows") + " " + std::to_string(max_rows), "rows of at least 2 classes",
                             "only " + std::to_string(count) + " class",
                             "take more rows (the file may be sorted by class)"));
}

ModelSpec model_spec(const RunConfig& c, const Dataset& data) {
    ModelSpec spec;
    spec.sizes.push_back(data.features);
    spec.sizes.insert(spec.sizes.end(), c.layers.begin(), c.layers.end());
    spec.sizes.push_back(loss_output_size(c.loss, data.num_classes(), data.outputs));
    spec.hidden_activation = c.activation;
    spec.loss = c.loss;
    spec.dropout = c.dropout;
    return spec;
}

}  // namespace

// Data: one file split three ways, or a training file (split into train/validation) plus a
// separate test file whose rows are appended after it.
RunData load_run_data(const RunConfig& c) {
    const CsvOptions csv{c.label, c.loss == Loss::mse};
    RunData run;
    run.data = load_dataset(c.data.empty() ? c.train_data : c.data, c.train_labels, "train_labels", csv);
    if (c.max_rows > 0) keep_first_rows_of_classes(run.data, c.max_rows);
    if (!c.test_data.empty()) {
        Dataset test = load_dataset(c.test_data, c.test_labels, "test_labels", csv);
        if (c.max_rows > 0) keep_first_rows(test, c.max_rows);
        if (run.data.is_classification())
            remap_classes(test, run.data.class_names, "only classes seen in the training data",
                          "the test file has a label the training file lacks");
        run.split = split_dataset(run.data, c.validation_fraction, 0.0, c.seed);
        run.split.test = append_rows(run.data, test);
    } else {
        run.split = split_dataset(run.data, c.validation_fraction, c.test_fraction, c.seed);
    }
    if (c.loss == Loss::binary_cross_entropy && run.data.num_classes() != 2)
        throw Error(describe(field_ref("loss") + " bce", "a dataset with exactly 2 classes",
                             std::to_string(run.data.num_classes()) + " classes",
                             "use " + field_ref("loss") + " cross_entropy for more classes"));
    return run;
}

TrainConfig resolve_train_config(const RunConfig& c, std::int64_t train_rows, std::vector<std::string>& notes) {
    TrainConfig t;
    t.epochs = c.epochs;
    t.batch_size = c.batch_size;
    if (t.batch_size > train_rows) {  // also bounds the workspaces by the data, not the setting
        notes.push_back("note: " + field_ref("batch_size") + " " + std::to_string(c.batch_size) +
                        " is larger than the " + std::to_string(train_rows) +
                        " training rows; each step uses all of them");
        t.batch_size = train_rows;
    }
    t.shards = c.shards;
    t.threads = c.threads;
    t.seed = c.seed;
    t.init = c.init;
    t.optimizer = {c.optimizer, c.momentum, c.nesterov, c.weight_decay, c.l2, c.beta1, c.beta2};
    t.clip_norm = c.clip_norm;
    t.patience = c.patience;
    t.allreduce = c.allreduce;
    t.weight_stores = c.weight_stores;
    t.shard_teams = c.shard_teams;
    ScheduleConfig& s = t.schedule;
    s.kind = c.schedule;
    s.lr = c.lr;
    // Linear scaling rule: the learning rate was tuned for lr_reference_batch rows per step.
    if (c.lr_reference_batch > 0)
        s.lr *= static_cast<float>(t.batch_size) / static_cast<float>(c.lr_reference_batch);
    const std::int64_t steps_per_epoch = (train_rows + t.batch_size - 1) / t.batch_size;
    s.warmup_steps = c.warmup_steps;
    s.step_every = c.lr_step_epochs * steps_per_epoch;
    s.gamma = c.lr_gamma;
    s.min_lr = c.min_lr;
    s.total_steps = t.epochs * steps_per_epoch;
    return t;
}

// The settings that name data files: compared by content, not by the path's text.
static bool is_data_path(const std::string& line) {
    for (const char* key : {"data", "train-data", "test-data", "train-labels", "test-labels"})
        if (line.rfind(std::string(key) + " = ", 0) == 0) return true;
    return false;
}

// A configuration text's "key = value" lines as (key, value) pairs in order, without the data
// paths; the precision line goes to `precision` instead.
static std::vector<std::pair<std::string, std::string>> settings_without_data_paths(const std::string& text,
                                                                                 std::string& precision) {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("precision = ", 0) == 0) precision = line.substr(12);
        else if (!is_data_path(line)) {
            const std::size_t eq = line.find(" = ");
            pairs.emplace_back(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 3));
        }
    }
    return pairs;
}

void check_same_configuration(const std::string& saved, const std::string& current, const std::string& path,
                              bool allow_precision_change) {
    // The precision line is written only for bf16 (settings.cpp): absent means fp32.
    std::string saved_precision = "fp32", current_precision = "fp32";
    const auto a = settings_without_data_paths(saved, saved_precision),
               b = settings_without_data_paths(current, current_precision);
    if (saved_precision != current_precision && !allow_precision_change)
        throw ConfigError("precision", saved_precision + " as saved in " + path, current_precision,
                          "a resumed run keeps its precision; to continue these weights in " + current_precision +
                              " anyway, add " + field_ref("allow_precision_change"));
    // Compared by key: a setting written only when set (as --lr-step-epochs) is a key one
    // side lacks, not a shift of every line after it.
    auto value_of = [](const std::vector<std::pair<std::string, std::string>>& pairs,
                       const std::string& key) -> std::optional<std::string> {
        for (const auto& [k, v] : pairs)
            if (k == key) return v;
        return std::nullopt;
    };
    auto refuse = [&](const std::string& key) {
        const std::optional<std::string> was = value_of(a, key), is = value_of(b, key);
        const Setting* setting = find_setting(key);
        throw ConfigError(setting ? setting->field : key,
                          (was ? "'" + key + " = " + *was + "'" : std::string("it unset")) + " as saved in " + path,
                          is ? "'" + key + " = " + *is + "'" : std::string("it unset"),
                          "a resumed run keeps its configuration; drop the setting, or start a new run");
    };
    for (const auto& [key, value] : a)
        if (value_of(b, key) != value) refuse(key);
    for (const auto& [key, value] : b)
        if (!value_of(a, key)) refuse(key);
}

// The data paths as canonical absolute paths (regular files only: a pipe has no path to
// keep), so that a checkpoint names its data from any working directory.
static RunConfig with_canonical_data_paths(RunConfig c) {
    for (std::string* path : {&c.data, &c.train_data, &c.test_data, &c.train_labels, &c.test_labels}) {
        std::error_code error;
        if (path->empty() || !std::filesystem::is_regular_file(*path, error)) continue;
        const std::filesystem::path canonical = std::filesystem::canonical(*path, error);
        if (!error) *path = canonical.string();
    }
    return c;
}

// A resumed run trains on the data its checkpoint was trained on, whatever path reaches it.
static void check_same_data(const PreparedRun& run, const LoadedCheckpoint& resume) {
    if (resume.info.data_hash.empty() || resume.info.data_hash == run.data_hash) return;
    throw ConfigError(run.config.data.empty() ? "train_data" : "data",
                      "the data " + resume.path + " was trained on (content hash " + resume.info.data_hash + ")",
                      "other content in " + run.data.source + " (hash " + run.data_hash + ")",
                      "give the run's own data file; a resumed run keeps its data");
}

LoadedCheckpoint load_resume_checkpoint(const std::string& resume) {
    return load_newest_checkpoint(resume, field_ref("resume"), true);
}

PreparedRun prepare_run(const RunConfig& config, std::optional<LoadedCheckpoint> resume) {
    validate(config);
    PreparedRun run;
    run.config = config;
    run.saved_config = config_lines(with_canonical_data_paths(config));
    if (!resume && !config.resume.empty()) resume = load_resume_checkpoint(config.resume);
    if (resume) {
        run.notes.insert(run.notes.end(), resume->warnings.begin(), resume->warnings.end());
        check_same_configuration(resume->info.config, run.saved_config, resume->path, config.allow_precision_change);
    }
    RunData loaded = load_run_data(config);
    run.data = std::move(loaded.data);
    run.split = std::move(loaded.split);
    run.data_hash = dataset_hash(run.data);
    if (resume) check_same_data(run, *resume);
    if (config.standardize && !run.data.x.empty()) {
        run.standardization = resume ? resume->info.standardization : fit_standardization(run.data, run.split.train);
        apply_standardization(run.data, run.standardization);
    }
    // (A checkpoint written before targets were standardized resumes without it.)
    if (config.loss == Loss::mse && config.standardize_target && !run.data.y.empty()) {
        run.target_standardization =
            resume ? resume->info.target_standardization : fit_target_standardization(run.data, run.split.train);
        if (!run.target_standardization.empty()) apply_target_standardization(run.data, run.target_standardization);
    }
    run.spec = model_spec(config, run.data);
    run.targets_cols = config.loss == Loss::mse ? run.data.outputs : 0;
    run.train = resolve_train_config(config, static_cast<std::int64_t>(run.split.train.size()), run.notes);
    const std::int64_t shards = run.train.shards > 0 ? run.train.shards : default_shards(run.train.batch_size);
    run.train.gemm = select_gemm({config.gemm, config.precision, !config.no_fallback}, run.spec,
                                 (run.train.batch_size + shards - 1) / shards, run.notes);
    // A run resumed from a directory keeps checkpointing there unless told otherwise.
    if (run.config.checkpoint_dir.empty() && !config.resume.empty() && std::filesystem::is_directory(config.resume))
        run.config.checkpoint_dir = config.resume;
    run.resume = std::move(resume);
    return run;
}

}  // namespace mlptrain
