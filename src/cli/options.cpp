// The `train` options: declared once, parsed from the command line and a --config file
// (flags override the file), converted with strict number parsing, then validated.
#include "options.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "mlptrain/core/error.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/nn/optimizer.hpp"
#include "mlptrain/nn/schedule.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {

std::int64_t parse_int(const std::string& text, const std::string& flag) {
    std::int64_t value = 0;
    const char* first = text.data();
    const char* last = first + text.size();
    if (!text.empty() && text[0] == '+') ++first;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (text.empty() || ec != std::errc() || end != last)
        throw Error(describe(flag, "an integer", "'" + text + "'"));
    return value;
}

double parse_real(const std::string& text, const std::string& flag) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
        throw Error(describe(flag, "a finite number", "'" + text + "'"));
    return value;
}

// Every option is read as text and converted by us, so that a bad value gets our message.
static po::options_description train_options() {
    po::options_description all("mlptrain train options");
    po::options_description data("Data");
    data.add_options()
        ("data", po::value<std::string>(), "CSV file to train on; split into train/validation/test")
        ("train-data", po::value<std::string>(), "training file (CSV or IDX images); use with --test-data")
        ("test-data", po::value<std::string>(), "separate test file, same format as --train-data")
        ("train-labels", po::value<std::string>(), "IDX labels for --train-data (default: its name with images-idx3 → labels-idx1)")
        ("test-labels", po::value<std::string>(), "IDX labels for --test-data (default: likewise)")
        ("label", po::value<std::string>(), "CSV label column: header name or 0-based index (default: last)")
        ("validation-fraction", po::value<std::string>(), "share of rows held out for validation (default 0.1)")
        ("test-fraction", po::value<std::string>(), "share of rows held out for the final test (default 0.2)")
        ("max-rows", po::value<std::string>(), "use only the first N rows of each data file, for quick runs (default: all)")
        ("no-standardize", po::bool_switch(), "do not standardize features (default: fit mean/std on train rows)");
    po::options_description model("Model");
    model.add_options()
        ("layers", po::value<std::string>(), "hidden layer widths, comma-separated (default 64,32)")
        ("activation", po::value<std::string>(), "hidden activation: relu, leaky_relu, tanh, sigmoid, identity (default relu)")
        ("loss", po::value<std::string>(), "cross_entropy (softmax), bce (sigmoid, 2 classes), mse (numeric targets) (default cross_entropy)")
        ("dropout", po::value<std::string>(), "drop probability after each hidden layer (default 0)")
        ("init", po::value<std::string>(), "weight init: he_normal or glorot_uniform (default: he_normal for relu, else glorot)");
    po::options_description opt("Optimization");
    opt.add_options()
        ("epochs", po::value<std::string>(), "passes over the training rows (default 100)")
        ("batch-size", po::value<std::string>(), "rows per optimizer step (default 16)")
        ("lr", po::value<std::string>(), "learning rate (default 0.01)")
        ("lr-reference-batch", po::value<std::string>(), "linear scaling rule: --lr is for this batch size; lr·batch/ref is used")
        ("optimizer", po::value<std::string>(), "sgd, adam or adamw (default sgd)")
        ("momentum", po::value<std::string>(), "SGD momentum (default 0.9)")
        ("nesterov", po::bool_switch(), "Nesterov momentum")
        ("weight-decay", po::value<std::string>(), "decoupled weight decay λ: θ −= lr·λ·θ (default 0.01)")
        ("l2", po::value<std::string>(), "L2 penalty added to the gradient: g += λ·θ (default 0)")
        ("beta1", po::value<std::string>(), "Adam β1 (default 0.9)")
        ("beta2", po::value<std::string>(), "Adam β2 (default 0.999)")
        ("schedule", po::value<std::string>(), "learning-rate schedule: constant, step, cosine (default constant)")
        ("warmup-steps", po::value<std::string>(), "linear warm-up steps (default 0)")
        ("lr-step-epochs", po::value<std::string>(), "step schedule: multiply lr by --lr-gamma every N epochs")
        ("lr-gamma", po::value<std::string>(), "step schedule factor (default 0.1)")
        ("min-lr", po::value<std::string>(), "cosine schedule floor (default 0)")
        ("clip-norm", po::value<std::string>(), "clip the global gradient norm to this (default 0: off)")
        ("patience", po::value<std::string>(), "early stopping: epochs without a better validation loss (default 0: off)");
    po::options_description exec("Execution");
    exec.add_options()
        ("threads", po::value<std::string>(), "worker threads (default: CPUs in the affinity mask)")
        ("shards", po::value<std::string>(), "shards per batch; part of the result's definition (default: from batch size)")
        ("seed", po::value<std::string>(), "seed of initialization, split, shuffling and dropout (default 1)")
        ("allreduce", po::value<std::string>(), "across MPI ranks: tree (bitwise equal to one process, default) or mpi (MPI_Allreduce, equal within rounding)");
    po::options_description ckpt("Checkpoints");
    ckpt.add_options()
        ("checkpoint-dir", po::value<std::string>(), "write checkpoints here (every epoch, every --checkpoint-every steps, and on SIGTERM/SIGINT/SIGUSR1)")
        ("checkpoint-every", po::value<std::string>(), "also checkpoint every N optimizer steps (default 0: epoch ends only)")
        ("keep-checkpoints", po::value<std::string>(), "keep the newest K checkpoints (default 3)")
        ("resume", po::value<std::string>(), "continue from a checkpoint file, or from the latest in a directory, with its saved configuration");
    po::options_description out("Output");
    out.add_options()
        ("quiet", po::bool_switch(), "print only the final results")
        ("verbose", po::bool_switch(), "also print the configuration and per-class details")
        ("metrics-out", po::value<std::string>(), "write one JSON object per epoch to this file")
        ("config", po::value<std::string>(), "read options from this file (key = value lines, same names as the flags; flags override)")
        ("help,h", "show this help");
    all.add(data).add(model).add(opt).add(exec).add(ckpt).add(out);
    return all;
}

static std::string unknown_option_hint() { return "run 'mlptrain train --help' for the options"; }

// Where each key of a config file stands: key → 1-based line, for messages.
static std::map<std::string, int> config_key_lines(const std::string& path) {
    std::map<std::string, int> lines;
    std::ifstream file(path);
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq);
        key.erase(0, key.find_first_not_of(" \t"));
        key.erase(key.find_last_not_of(" \t") + 1);
        lines.emplace(key, number);
    }
    return lines;
}

TrainArgs parse_train_args(const std::vector<std::string>& args, const std::string& base_config) {
    const po::options_description desc = train_options();
    po::variables_map vm;
    po::variables_map from_command_line;
    std::string config_path;
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        from_command_line = vm;
    } catch (const po::unknown_option& e) {
        throw Error("unknown option '" + e.get_option_name() + "' (hint: " + unknown_option_hint() + ")");
    } catch (const po::error& e) {
        throw Error(std::string(e.what()) + " (hint: " + unknown_option_hint() + ")");
    }
    std::map<std::string, int> key_lines;
    if (vm.count("config")) {
        config_path = vm["config"].as<std::string>();
        std::ifstream file(config_path);
        if (!file)
            throw Error(describe("--config " + config_path, "a readable options file",
                                 "a file that cannot be opened", "check the path"));
        key_lines = config_key_lines(config_path);
        try {
            po::store(po::parse_config_file(file, desc), vm);
        } catch (const po::error& e) {
            throw Error("--config " + config_path + ": " + e.what() +
                        " (hint: one 'key = value' per line, keys are the train flags without "
                        "'--'; see 'mlptrain train --help')");
        }
    }
    if (!base_config.empty()) {  // a resumed run's saved configuration: lowest priority
        std::istringstream saved(base_config);
        try {
            po::store(po::parse_config_file(saved, desc), vm);
        } catch (const po::error& e) {
            throw Error(std::string("--resume: the checkpoint's saved configuration: ") + e.what() +
                        " (hint: was it written by another version of mlptrain?)");
        }
    }
    po::notify(vm);

    TrainArgs result;
    if (vm.count("help")) {
        std::ostringstream text;
        text << "usage: mlptrain train --data FILE [options]\n\n" << desc;
        result.help_text = text.str();
        return result;
    }
    RunConfig& c = result.config;
    TrainConfig& t = c.train;
    auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    auto has = [&](const char* name) { return vm.count(name) > 0; };
    // A value from the command line is named by its flag; one from the config file by the
    // file, line and key, so the message points where the user has to look.
    auto flag = [&](const char* name) {
        if (from_command_line.count(name) || config_path.empty()) return std::string("--") + name;
        const auto line = key_lines.find(name);
        return config_path + (line != key_lines.end() ? ", line " + std::to_string(line->second) : "") +
               ", key '" + name + "'";
    };
    auto integer = [&](const char* name) { return parse_int(text(name), flag(name)); };
    auto real = [&](const char* name) { return parse_real(text(name), flag(name)); };

    if (has("data")) c.data = text("data");
    if (has("train-data")) c.train_data = text("train-data");
    if (has("test-data")) c.test_data = text("test-data");
    if (has("train-labels")) c.train_labels = text("train-labels");
    if (has("test-labels")) c.test_labels = text("test-labels");
    if (has("label")) c.label = text("label");
    if (has("validation-fraction")) c.validation_fraction = real("validation-fraction");
    if (has("test-fraction")) c.test_fraction = real("test-fraction");
    c.standardize = !vm["no-standardize"].as<bool>();
    if (has("max-rows")) c.max_rows = integer("max-rows");

    if (has("layers")) c.hidden = parse_layer_sizes(text("layers"), flag("layers"));
    if (has("activation")) c.activation = parse_activation(text("activation"), flag("activation"));
    if (has("loss")) c.loss = parse_loss(text("loss"), flag("loss"));
    if (has("dropout")) c.dropout = static_cast<float>(real("dropout"));
    if (has("init")) t.init = parse_init(text("init"), flag("init"));

    if (has("epochs")) t.epochs = integer("epochs");
    if (has("batch-size")) t.batch_size = integer("batch-size");
    if (has("lr")) t.schedule.lr = static_cast<float>(real("lr"));
    if (has("lr-reference-batch")) c.lr_reference_batch = integer("lr-reference-batch");
    if (has("optimizer")) t.optimizer.kind = parse_optimizer(text("optimizer"), flag("optimizer"));
    if (has("momentum")) t.optimizer.momentum = static_cast<float>(real("momentum"));
    t.optimizer.nesterov = vm["nesterov"].as<bool>();
    if (has("weight-decay")) t.optimizer.weight_decay = static_cast<float>(real("weight-decay"));
    if (has("l2")) t.optimizer.l2 = static_cast<float>(real("l2"));
    if (has("beta1")) t.optimizer.beta1 = static_cast<float>(real("beta1"));
    if (has("beta2")) t.optimizer.beta2 = static_cast<float>(real("beta2"));
    if (has("schedule")) t.schedule.kind = parse_schedule(text("schedule"), flag("schedule"));
    if (has("warmup-steps")) t.schedule.warmup_steps = integer("warmup-steps");
    if (has("lr-step-epochs")) c.lr_step_epochs = integer("lr-step-epochs");
    if (has("lr-gamma")) t.schedule.gamma = static_cast<float>(real("lr-gamma"));
    if (has("min-lr")) t.schedule.min_lr = static_cast<float>(real("min-lr"));
    if (has("clip-norm")) t.clip_norm = static_cast<float>(real("clip-norm"));
    if (has("patience")) t.patience = integer("patience");

    if (has("threads")) {
        const std::int64_t threads = integer("threads");
        if (threads < 1 || threads > 1024)
            throw Error(describe(flag("threads"), "an integer from 1 to 1024", text("threads"),
                                 "omit --threads to use every CPU of the affinity mask"));
        t.threads = static_cast<int>(threads);
    }
    if (has("shards")) t.shards = integer("shards");
    if (has("allreduce")) {
        if (text("allreduce") == "tree") t.allreduce = AllreduceKind::tree;
        else if (text("allreduce") == "mpi") t.allreduce = AllreduceKind::mpi;
        else throw Error(describe(flag("allreduce"), "tree or mpi", "'" + text("allreduce") + "'"));
    }
    if (has("seed")) {
        const std::int64_t seed = integer("seed");
        if (seed < 0) throw Error(describe(flag("seed"), "a non-negative integer", "'" + text("seed") + "'"));
        t.seed = static_cast<std::uint64_t>(seed);
    }
    c.quiet = vm["quiet"].as<bool>();
    c.verbose = vm["verbose"].as<bool>();
    if (has("checkpoint-dir")) c.checkpoint_dir = text("checkpoint-dir");
    if (has("checkpoint-every")) c.checkpoint_every = integer("checkpoint-every");
    if (has("keep-checkpoints")) c.keep_checkpoints = integer("keep-checkpoints");
    if (has("resume")) c.resume = text("resume");
    if (has("metrics-out")) c.metrics_out = text("metrics-out");
    if (has("shards") && t.shards <= 0)
        throw Error(describe(flag("shards"), "a positive integer", text("shards"), "omit --shards for the default"));
    try {
        validate(c);
    } catch (const Error& e) {
        // validate() names flags; point at the config file's line when the value came from it.
        const std::string message = e.what();
        const std::size_t colon = message.find(':');
        if (message.rfind("--", 0) != 0 || colon == std::string::npos) throw;
        const std::string key = message.substr(2, colon - 2);
        if (key.find(' ') != std::string::npos || !vm.count(key) || from_command_line.count(key) || config_path.empty())
            throw;
        throw Error(flag(key.c_str()) + message.substr(colon));
    }
    return result;
}

static std::string real_text(double v, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    return text;
}

std::string config_lines(const RunConfig& c) {
    const TrainConfig& t = c.train;
    std::ostringstream out;
    auto line = [&](const char* key, const std::string& value) {
        if (!value.empty()) out << key << " = " << value << "\n";
    };
    auto f = [](float v) { return real_text(v, 9); };  // 9 digits: a float round-trips
    std::string layers;
    for (std::size_t i = 0; i < c.hidden.size(); ++i) layers += (i ? "," : "") + std::to_string(c.hidden[i]);
    line("data", c.data);
    line("train-data", c.train_data);
    line("test-data", c.test_data);
    line("train-labels", c.train_labels);
    line("test-labels", c.test_labels);
    line("label", c.label);
    line("validation-fraction", real_text(c.validation_fraction, 17));
    line("test-fraction", real_text(c.test_fraction, 17));
    line("no-standardize", c.standardize ? "false" : "true");
    if (c.max_rows > 0) line("max-rows", std::to_string(c.max_rows));
    line("layers", layers);
    line("activation", activation_name(c.activation));
    line("loss", loss_name(c.loss));
    line("dropout", f(c.dropout));
    if (t.init) line("init", init_name(*t.init));
    line("epochs", std::to_string(t.epochs));
    line("batch-size", std::to_string(t.batch_size));
    line("lr", f(t.schedule.lr));
    line("lr-reference-batch", std::to_string(c.lr_reference_batch));
    line("optimizer", optimizer_name(t.optimizer.kind));
    line("momentum", f(t.optimizer.momentum));
    line("nesterov", t.optimizer.nesterov ? "true" : "false");
    line("weight-decay", f(t.optimizer.weight_decay));
    line("l2", f(t.optimizer.l2));
    line("beta1", f(t.optimizer.beta1));
    line("beta2", f(t.optimizer.beta2));
    line("schedule", schedule_name(t.schedule.kind));
    line("warmup-steps", std::to_string(t.schedule.warmup_steps));
    if (c.lr_step_epochs > 0) line("lr-step-epochs", std::to_string(c.lr_step_epochs));
    line("lr-gamma", f(t.schedule.gamma));
    line("min-lr", f(t.schedule.min_lr));
    line("clip-norm", f(t.clip_norm));
    line("patience", std::to_string(t.patience));
    if (t.shards > 0) line("shards", std::to_string(t.shards));
    line("seed", std::to_string(t.seed));
    return out.str();
}

}  // namespace mlptrain::cli
