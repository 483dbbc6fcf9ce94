// The settings table (see settings.hpp): every setting's key, field, help text, documented
// default and text conversion, in the order of config_lines and the help text.
#include "mlptrain/run/settings.hpp"

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

using Text = const std::string&;

bool parse_switch(Text text, Text field) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    throw ConfigError(field, "true or false", quote(text));
}

// Setters and getters for plain fields; `M` is the RunConfig member.
template <std::string RunConfig::*M> void set_text(RunConfig& c, Text t, Text) { c.*M = t; }
template <std::string RunConfig::*M> std::string get_text(const RunConfig& c) { return c.*M; }
template <std::int64_t RunConfig::*M> void set_integer(RunConfig& c, Text t, Text f) { c.*M = parse_integer(t, f); }
template <std::int64_t RunConfig::*M> std::string get_integer(const RunConfig& c) { return std::to_string(c.*M); }
// Integers whose 0 means "not set": omitted from config_lines then.
template <std::int64_t RunConfig::*M> std::string get_positive(const RunConfig& c) {
    return c.*M > 0 ? std::to_string(c.*M) : "";
}
template <float RunConfig::*M> void set_float(RunConfig& c, Text t, Text f) { c.*M = static_cast<float>(parse_real(t, f)); }
// 9 significant digits: a float reads back to the same bits.
template <float RunConfig::*M> std::string get_float(const RunConfig& c) { return format_general(c.*M, 9); }
template <double RunConfig::*M> void set_double(RunConfig& c, Text t, Text f) { c.*M = parse_real(t, f); }
template <double RunConfig::*M> std::string get_double(const RunConfig& c) { return format_general(c.*M, 17); }
template <bool RunConfig::*M> void set_switch(RunConfig& c, Text t, Text f) { c.*M = parse_switch(t, f); }
template <bool RunConfig::*M> std::string get_switch(const RunConfig& c) { return c.*M ? "true" : "false"; }

std::string layers_text(const RunConfig& c) {
    std::string text;
    for (std::size_t i = 0; i < c.layers.size(); ++i) text += (i ? "," : "") + std::to_string(c.layers[i]);
    return text;
}

// A typed 0 would read as "no rows"; every row is the default (0 in RunConfig), so the text
// form takes only positive counts.
void set_max_rows(RunConfig& c, Text t, Text f) {
    c.max_rows = parse_integer(t, f);
    if (c.max_rows <= 0)
        throw ConfigError(f, "a positive number of rows", t, "omit " + field_ref(f) + " to use every row");
}

// An empty label column is no column: the last one is the default when none is given.
void set_label(RunConfig& c, Text t, Text f) {
    if (t.empty())
        throw ConfigError(f, "a column name or 0-based index", "an empty name", "omit " + field_ref(f) + " for the last column");
    c.label = t;
}

void set_seed(RunConfig& c, Text t, Text f) {
    const std::int64_t seed = parse_integer(t, f);
    if (seed < 0) throw ConfigError(f, "a non-negative integer", quote(t));
    c.seed = static_cast<std::uint64_t>(seed);
}

void set_shards(RunConfig& c, Text t, Text f) {
    c.shards = parse_integer(t, f);
    if (c.shards <= 0) throw ConfigError(f, "a positive integer", t, "omit " + field_ref(f) + " for the default");
}

void set_allreduce(RunConfig& c, Text t, Text f) {
    if (t == "tree") c.allreduce = AllreduceKind::tree;
    else if (t == "mpi") c.allreduce = AllreduceKind::mpi;
    else throw ConfigError(f, "tree or mpi", quote(t));
}

void set_gemm(RunConfig& c, Text t, Text f) {
    if (t == "openblas") c.gemm = GemmBackend::openblas;
    else if (t == "onednn") c.gemm = GemmBackend::onednn;
    else throw ConfigError(f, "openblas or onednn", quote(t));
}

void set_precision(RunConfig& c, Text t, Text f) {
    if (t == "fp32") c.precision = GemmPrecision::fp32;
    else if (t == "bf16") c.precision = GemmPrecision::bf16;
    else throw ConfigError(f, "fp32 or bf16", quote(t));
}

const std::vector<Setting> table = {
    // key, field, group, help, default, default note, switch, defines result, set, get
    {"data", "data", "Data", "CSV file to train on; split into train/validation/test", nullptr, nullptr, false, true,
     set_text<&RunConfig::data>, get_text<&RunConfig::data>},
    {"train-data", "train_data", "Data", "training file (CSV or IDX images); use with --test-data", nullptr, nullptr,
     false, true, set_text<&RunConfig::train_data>, get_text<&RunConfig::train_data>},
    {"test-data", "test_data", "Data", "separate test file, same format as --train-data", nullptr, nullptr, false,
     true, set_text<&RunConfig::test_data>, get_text<&RunConfig::test_data>},
    {"train-labels", "train_labels", "Data", "IDX labels for --train-data", nullptr,
     "default: its name with images-idx3 → labels-idx1", false, true, set_text<&RunConfig::train_labels>,
     get_text<&RunConfig::train_labels>},
    {"test-labels", "test_labels", "Data", "IDX labels for --test-data", nullptr, "default: likewise", false, true,
     set_text<&RunConfig::test_labels>, get_text<&RunConfig::test_labels>},
    {"label", "label", "Data", "CSV label column: header name or 0-based index", nullptr, "default: last", false,
     true, set_label, get_text<&RunConfig::label>},
    {"validation-fraction", "validation_fraction", "Data", "share of rows held out for validation", "0.1", nullptr,
     false, true, set_double<&RunConfig::validation_fraction>, get_double<&RunConfig::validation_fraction>},
    {"test-fraction", "test_fraction", "Data", "share of rows held out for the final test", "0.2", nullptr, false,
     true, set_double<&RunConfig::test_fraction>, get_double<&RunConfig::test_fraction>},
    {"no-standardize", "standardize", "Data", "do not standardize features", "false",
     "default: fit mean/std on train rows", true, true,
     [](RunConfig& c, Text t, Text f) { c.standardize = !parse_switch(t, f); },
     [](const RunConfig& c) -> std::string { return c.standardize ? "false" : "true"; }},
    // Written to a checkpoint only when switched off, so that the configuration text of a run
    // that does not use it (every classification) is what it was before it existed.
    {"no-standardize-target", "standardize_target", "Data",
     "mse: do not standardize the regression targets (default: fit mean/std on train rows; outputs are reported "
     "and written in the original units)", "false", nullptr, true, true,
     [](RunConfig& c, Text t, Text f) { c.standardize_target = !parse_switch(t, f); },
     [](const RunConfig& c) -> std::string { return c.standardize_target ? "" : "true"; }},
    {"max-rows", "max_rows", "Data", "use only the first N rows of each data file, for quick runs", nullptr,
     "default: all", false, true, set_max_rows, get_positive<&RunConfig::max_rows>},
    {"layers", "layers", "Model", "hidden layer widths, comma-separated", "64,32", nullptr, false, true,
     [](RunConfig& c, Text t, Text f) { c.layers = parse_layer_sizes(t, f); }, layers_text},
    {"activation", "activation", "Model", "hidden activation: relu, leaky_relu, tanh, sigmoid, identity", "relu",
     nullptr, false, true, [](RunConfig& c, Text t, Text f) { c.activation = parse_activation(t, f); },
     [](const RunConfig& c) -> std::string { return activation_name(c.activation); }},
    {"loss", "loss", "Model",
     "cross_entropy (softmax), bce (sigmoid, 2 classes), mse (numeric targets)", "cross_entropy", nullptr, false,
     true, [](RunConfig& c, Text t, Text f) { c.loss = parse_loss(t, f); },
     [](const RunConfig& c) -> std::string { return loss_name(c.loss); }},
    {"dropout", "dropout", "Model", "drop probability after each hidden layer", "0", nullptr, false, true,
     set_float<&RunConfig::dropout>, get_float<&RunConfig::dropout>},
    {"init", "init", "Model", "weight init: he_normal or glorot_uniform", nullptr,
     "default: he_normal for relu, else glorot", false, true,
     [](RunConfig& c, Text t, Text f) { c.init = parse_init(t, f); },
     [](const RunConfig& c) -> std::string { return c.init ? init_name(*c.init) : ""; }},
    {"epochs", "epochs", "Optimization", "passes over the training rows", "100", nullptr, false, true,
     set_integer<&RunConfig::epochs>, get_integer<&RunConfig::epochs>},
    {"batch-size", "batch_size", "Optimization", "rows per optimizer step", "16", nullptr, false, true,
     set_integer<&RunConfig::batch_size>, get_integer<&RunConfig::batch_size>},
    {"lr", "lr", "Optimization", "learning rate", "0.01", nullptr, false, true, set_float<&RunConfig::lr>,
     get_float<&RunConfig::lr>},
    {"lr-reference-batch", "lr_reference_batch", "Optimization",
     "linear scaling rule: --lr is for this batch size; lr·batch/ref is used", nullptr, "default 0: off", false,
     true, set_integer<&RunConfig::lr_reference_batch>, get_integer<&RunConfig::lr_reference_batch>},
    {"optimizer", "optimizer", "Optimization", "sgd, adam or adamw", "sgd", nullptr, false, true,
     [](RunConfig& c, Text t, Text f) { c.optimizer = parse_optimizer(t, f); },
     [](const RunConfig& c) -> std::string { return optimizer_name(c.optimizer); }},
    {"momentum", "momentum", "Optimization", "SGD momentum", "0.9", nullptr, false, true,
     set_float<&RunConfig::momentum>, get_float<&RunConfig::momentum>},
    {"nesterov", "nesterov", "Optimization", "Nesterov momentum", "false", nullptr, true, true,
     set_switch<&RunConfig::nesterov>, get_switch<&RunConfig::nesterov>},
    {"weight-decay", "weight_decay", "Optimization", "decoupled weight decay λ: θ −= lr·λ·θ", "0.01", nullptr,
     false, true, set_float<&RunConfig::weight_decay>, get_float<&RunConfig::weight_decay>},
    {"l2", "l2", "Optimization", "L2 penalty added to the gradient: g += λ·θ", "0", nullptr, false, true,
     set_float<&RunConfig::l2>, get_float<&RunConfig::l2>},
    {"beta1", "beta1", "Optimization", "Adam β1", "0.9", nullptr, false, true, set_float<&RunConfig::beta1>,
     get_float<&RunConfig::beta1>},
    {"beta2", "beta2", "Optimization", "Adam β2", "0.999", nullptr, false, true, set_float<&RunConfig::beta2>,
     get_float<&RunConfig::beta2>},
    {"schedule", "schedule", "Optimization", "learning-rate schedule: constant, step, cosine", "constant", nullptr,
     false, true, [](RunConfig& c, Text t, Text f) { c.schedule = parse_schedule(t, f); },
     [](const RunConfig& c) -> std::string { return schedule_name(c.schedule); }},
    {"warmup-steps", "warmup_steps", "Optimization", "linear warm-up steps", "0", nullptr, false, true,
     set_integer<&RunConfig::warmup_steps>, get_integer<&RunConfig::warmup_steps>},
    {"lr-step-epochs", "lr_step_epochs", "Optimization", "step schedule: multiply lr by --lr-gamma every N epochs",
     nullptr, nullptr, false, true, set_integer<&RunConfig::lr_step_epochs>,
     get_positive<&RunConfig::lr_step_epochs>},
    {"lr-gamma", "lr_gamma", "Optimization", "step schedule factor", "0.1", nullptr, false, true,
     set_float<&RunConfig::lr_gamma>, get_float<&RunConfig::lr_gamma>},
    {"min-lr", "min_lr", "Optimization", "cosine schedule floor", "0", nullptr, false, true,
     set_float<&RunConfig::min_lr>, get_float<&RunConfig::min_lr>},
    {"clip-norm", "clip_norm", "Optimization", "clip the global gradient norm to this", "0", "default 0: off",
     false, true, set_float<&RunConfig::clip_norm>, get_float<&RunConfig::clip_norm>},
    {"patience", "patience", "Optimization", "early stopping: epochs without a better validation loss", "0",
     "default 0: off", false, true, set_integer<&RunConfig::patience>, get_integer<&RunConfig::patience>},
    {"threads", "threads", "Execution", "worker threads", nullptr, "default: CPUs in the affinity mask", false,
     false, [](RunConfig& c, Text t, Text f) { c.threads = parse_threads(t, f); },
     [](const RunConfig& c) -> std::string { return c.threads > 0 ? std::to_string(c.threads) : ""; }},
    {"shards", "shards", "Execution", "shards per batch; part of the result's definition", nullptr,
     "default: from batch size", false, true, set_shards, get_positive<&RunConfig::shards>},
    {"seed", "seed", "Execution", "seed of initialization, split, shuffling and dropout", "1", nullptr, false, true,
     set_seed, [](const RunConfig& c) { return std::to_string(c.seed); }},
    {"allreduce", "allreduce", "Execution",
     "across MPI ranks: tree (bitwise equal to one process) or mpi (MPI_Allreduce, equal within rounding)", "tree",
     nullptr, false, false, set_allreduce,
     [](const RunConfig& c) -> std::string { return c.allreduce == AllreduceKind::tree ? "tree" : "mpi"; }},
    {"weight-stores", "weight_stores", "Execution",
     "how the update writes the weights that several threads read: auto (measures streaming and plain stores "
     "now and then and runs the faster; which wins depends on whether the cores share a cache), streaming or "
     "plain. The same weights either way",
     "auto", nullptr, false, false,
     [](RunConfig& c, Text t, Text f) { c.weight_stores = parse_weight_stores(t, f); },
     [](const RunConfig& c) { return weight_stores_name(c.weight_stores); }},
    {"shard-teams", "shard_teams", "Execution",
     "with more threads than shards: let a team of threads share each shard's passes, where the GEMM kernels "
     "are verified to give the split the bits of one thread (true), or leave the extra threads idle (false). "
     "The same weights either way",
     "true", nullptr, false, false, set_switch<&RunConfig::shard_teams>, get_switch<&RunConfig::shard_teams>},
    {"blas-core", "blas_core", "Execution",
     "OpenBLAS kernel set: auto (the widest this CPU runs, verified by an sgemm self-test; an "
     "OPENBLAS_CORETYPE you set is kept), keep (OpenBLAS's own choice) or a core name such as Haswell, "
     "SkylakeX, Cooperlake. Weights depend on it: fingerprints match per machine type and core",
     "auto", nullptr, false, false,
     [](RunConfig& c, Text t, Text f) { c.blas_core = parse_blas_core_option(t, f); },
     [](const RunConfig& c) { return blas_core_option_name(c.blas_core); }},
    {"gemm", "gemm", "Execution",
     "GEMM library: openblas, or onednn (oneDNN matmul primitives, one per shape, created before the first "
     "step). Weights depend on it as on the BLAS core",
     nullptr, "default: openblas; onednn with --precision bf16", false, false, set_gemm,
     [](const RunConfig& c) -> std::string { return c.gemm ? gemm_backend_name(*c.gemm) : ""; }},
    // Written to a checkpoint only when bf16, so that an fp32 run's configuration text is what
    // it was before the setting existed (and older checkpoints read as fp32).
    {"precision", "precision", "Execution",
     "GEMM inputs: fp32, or bf16 (rounded to bfloat16, nearest-even; sums, outputs, loss, weights and optimizer "
     "state stay fp32; needs oneDNN and a CPU with AVX512_BF16 or AMX-BF16; networks too small to gain run fp32, "
     "with a note). Part of the result's definition",
     "fp32", nullptr, false, true, set_precision,
     [](const RunConfig& c) -> std::string { return c.precision == GemmPrecision::bf16 ? "bf16" : ""; }},
    // Written only when set, as precision is only when bf16.
    {"no-fallback", "no_fallback", "Execution",
     "with --precision bf16: run bf16 even on a network too small to gain from it (it would run fp32, with a "
     "note). Part of the result's definition",
     "false", nullptr, true, true, set_switch<&RunConfig::no_fallback>,
     [](const RunConfig& c) -> std::string { return c.no_fallback ? "true" : ""; }},
    {"checkpoint-dir", "checkpoint_dir", "Checkpoints",
     "write checkpoints here (every epoch, every --checkpoint-every steps, and on SIGTERM/SIGINT/SIGUSR1)", nullptr,
     nullptr, false, false, set_text<&RunConfig::checkpoint_dir>, get_text<&RunConfig::checkpoint_dir>},
    {"checkpoint-every", "checkpoint_every", "Checkpoints", "also checkpoint every N optimizer steps", "0",
     "default 0: epoch ends only", false, false, set_integer<&RunConfig::checkpoint_every>,
     get_integer<&RunConfig::checkpoint_every>},
    {"keep-checkpoints", "keep_checkpoints", "Checkpoints", "keep the newest K checkpoints", "3",
     "default 3; 0 keeps every one", false,
     false, set_integer<&RunConfig::keep_checkpoints>, get_integer<&RunConfig::keep_checkpoints>},
    {"resume", "resume", "Checkpoints",
     "continue from a checkpoint file, or from the latest in a directory, with its saved configuration", nullptr,
     nullptr, false, false, set_text<&RunConfig::resume>, get_text<&RunConfig::resume>},
    {"allow-precision-change", "allow_precision_change", "Checkpoints",
     "with --resume: continue a checkpoint trained with another --precision (refused otherwise; the result then "
     "differs from an uninterrupted run in either precision)",
     "false", nullptr, true, false, set_switch<&RunConfig::allow_precision_change>,
     get_switch<&RunConfig::allow_precision_change>},
};

}  // namespace

const std::vector<Setting>& settings() { return table; }

const Setting* find_setting(const std::string& key) {
    for (const Setting& s : table)
        if (key == s.key) return &s;
    return nullptr;
}

const Setting* find_setting_by_field(const std::string& field) {
    for (const Setting& s : table)
        if (field == s.field) return &s;
    return nullptr;
}

std::string help_text(const Setting& s) {
    if (s.default_note) return std::string(s.help) + " (" + s.default_note + ")";
    if (s.default_value && !s.is_switch) return std::string(s.help) + " (default " + s.default_value + ")";
    return s.help;
}

RunConfig::RunConfig() {
    for (const Setting& s : table)
        if (s.default_value) s.set(*this, s.default_value, s.field);
}

}  // namespace mlptrain
