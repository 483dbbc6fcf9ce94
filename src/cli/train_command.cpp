// `mlptrain train`: load and split the data, build the model and the trainer, print one
// line per epoch, then the test result and the weights fingerprint.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "metrics_log.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/storage/checkpoint.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/data/csv.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/core/metrics.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace mlptrain::cli {

// Maps the class indices of `test` onto the class names of `train`.
static void align_classes(Dataset& test, const Dataset& train) {
    std::map<std::string, std::int32_t> index;
    for (std::size_t i = 0; i < train.class_names.size(); ++i)
        index[train.class_names[i]] = static_cast<std::int32_t>(i);
    std::vector<std::int32_t> remap;
    for (const std::string& name : test.class_names) {
        const auto it = index.find(name);
        if (it == index.end())
            throw Error(describe(test.source, "only classes seen in the training data",
                                 "class '" + name + "'", "the test file has a label the training file lacks"));
        remap.push_back(it->second);
    }
    for (std::int32_t& label : test.labels) label = remap[static_cast<std::size_t>(label)];
    test.class_names = train.class_names;
}

// Appends the rows of `extra` to `data` (same columns), returning the new rows' indices.
static std::vector<std::int64_t> append_rows(Dataset& data, const Dataset& extra) {
    if (extra.x_u8.empty() != data.x_u8.empty())
        throw Error(describe(extra.source, std::string("the same kind of file as ") + data.source +
                                               (data.x_u8.empty() ? " (CSV)" : " (IDX images)"),
                             extra.x_u8.empty() ? "a CSV file" : "IDX images",
                             "give --train-data and --test-data in one format"));
    if (extra.features != data.features)
        throw Error(describe(extra.source, std::to_string(data.features) + " feature columns like " + data.source,
                             std::to_string(extra.features)));
    std::vector<std::int64_t> rows;
    for (std::int64_t r = 0; r < extra.rows; ++r) rows.push_back(data.rows + r);
    data.x.insert(data.x.end(), extra.x.begin(), extra.x.end());
    data.x_u8.insert(data.x_u8.end(), extra.x_u8.begin(), extra.x_u8.end());
    data.labels.insert(data.labels.end(), extra.labels.begin(), extra.labels.end());
    data.y.insert(data.y.end(), extra.y.begin(), extra.y.end());
    data.rows += extra.rows;
    data.source += " + " + extra.source;
    return rows;
}

// A CSV file, or IDX images with their labels file (given, or found by the usual naming).
static Dataset load_dataset(const std::string& path, const std::string& labels_path,
                            const std::string& labels_flag, const CsvOptions& csv) {
    if (!is_idx_file(path)) return load_csv(path, csv);
    const std::string labels = labels_path.empty() ? idx_labels_path_for(path) : labels_path;
    if (labels.empty())
        throw Error(describe(path, "an IDX labels file beside these IDX images", "none",
                             "name it with " + labels_flag + " FILE"));
    return load_idx(path, labels);
}

static std::string fixed(double v, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, v);
    return text;
}

// Preemption: SIGTERM, SIGINT and SIGUSR1 only set this flag; the step loop notices it at
// the next step boundary, checkpoints, and exits with the signal's documented status.
static volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_stop_signal(int signal) { stop_signal = signal; }

// Exit statuses after a signal (README): SIGUSR1 "checkpointed, requeue me" 75
// (EX_TEMPFAIL), SIGTERM 143 and SIGINT 130 (the shell's 128 + signal).
static int exit_status_for(int signal) {
    if (signal == SIGUSR1) return 75;
    return 128 + signal;
}

// The value of --resume in args (either "--resume X" or "--resume=X"), or "".
static std::string resume_argument(const std::vector<std::string>& args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--resume" && i + 1 < args.size()) return args[i + 1];
        if (args[i].rfind("--resume=", 0) == 0) return args[i].substr(9);
    }
    return "";
}

// A resumed run continues the saved configuration: a result-defining flag given again must
// say the same, or the run would silently become a different one.
static void check_same_configuration(const std::string& saved, const RunConfig& now, const std::string& path) {
    const std::string current = config_lines(now);
    std::istringstream a(saved), b(current);
    std::string line_a, line_b;
    while (true) {
        const bool more_a = static_cast<bool>(std::getline(a, line_a));
        const bool more_b = static_cast<bool>(std::getline(b, line_b));
        if (!more_a && !more_b) return;
        if (line_a != line_b) {
            const std::string key = (more_b ? line_b : line_a).substr(0, (more_b ? line_b : line_a).find(" ="));
            throw Error(describe("--" + key, "'" + line_a + "' as saved in " + path,
                                 "'" + line_b + "'",
                                 "a resumed run keeps its configuration; drop the flag, or start a new run"));
        }
    }
}

// FNV-1a 64 of a string, for the ranks' agreement on configuration and model.
static std::uint64_t hash_text(const std::string& text) {
    return fingerprint64(reinterpret_cast<const unsigned char*>(text.data()), static_cast<std::int64_t>(text.size()));
}

// FNV-1a 64 of the dataset's size and contents, for the ranks' agreement on the data.
static std::uint64_t hash_dataset(const Dataset& d) {
    auto bytes = [](const auto& v) {
        return fingerprint64(reinterpret_cast<const unsigned char*>(v.data()),
                             static_cast<std::int64_t>(v.size() * sizeof(v[0])));
    };
    return hash_text(std::to_string(d.rows) + "x" + std::to_string(d.features) + ":" +
                     std::to_string(bytes(d.x)) + std::to_string(bytes(d.x_u8)) +
                     std::to_string(bytes(d.labels)) + std::to_string(bytes(d.y)));
}

// Before step 0 every rank must train the same thing; a mismatch names the rank and what
// differs instead of hanging or silently averaging different models.
static void check_ranks_agree(Communicator& comm, const std::string& config, const ModelSpec& spec,
                              const Dataset& data) {
    const std::pair<const char*, std::uint64_t> checks[] = {
        {"configuration", hash_text(config)},
        {"model", hash_text(spec.describe())},
        {"dataset (size and contents)", hash_dataset(data)}};
    for (const auto& [what, value] : checks) {
        const int rank = comm.first_disagreeing_rank(value);
        if (rank >= 0)
            throw Error(describe(std::string(what) + " of rank " + std::to_string(rank), std::string("the same as rank 0's"),
                                 "a different one", "every rank must get the same flags and the same data files"));
    }
}

static int train_on(const std::vector<std::string>& args, Communicator& comm);

int run_train(const std::vector<std::string>& args) {
    // MPI starts here when launched by mpirun/srun; the communicator ends it.
    const std::unique_ptr<Communicator> comm = make_communicator(nullptr, nullptr);
    try {
        return train_on(args, *comm);
    } catch (const Error& e) {
        if (comm->size() == 1) throw;  // main prints it
        // Other ranks may be waiting in a collective: print, then end the whole job.
        std::cout.flush();
        std::cerr << "mlptrain: error: rank " << comm->rank() << ": " << e.what() << "\n";
        std::cerr.flush();
        comm->abort(e.exit_status());
    }
    return 1;  // not reached: abort ends the process
}

static int train_on(const std::vector<std::string>& args, Communicator& comm) {
    const bool leader = comm.rank() == 0;  // only rank 0 prints and writes files
    if (!leader) std::cout.setstate(std::ios::badbit);
    std::optional<LoadedCheckpoint> resumed;
    const std::string resume = resume_argument(args);
    if (!resume.empty()) resumed = load_newest_checkpoint(resume);
    TrainArgs parsed = parse_train_args(args, resumed ? resumed->info.config : "");
    if (!parsed.help_text.empty()) {
        std::cout << parsed.help_text;
        return 0;
    }
    RunConfig& c = parsed.config;
    if (resumed) check_same_configuration(resumed->info.config, c, resumed->path);
    const std::string saved_config = config_lines(c);
    const bool regression = c.loss == Loss::mse;
    const CsvOptions csv{c.label, regression};

    // Data: one file split three ways, or a training file (split into train/validation)
    // plus a separate test file appended after it.
    Dataset data = load_dataset(c.data.empty() ? c.train_data : c.data, c.train_labels,
                                "--train-labels", csv);
    if (c.max_rows > 0) {
        keep_first_rows(data, c.max_rows);
        if (data.is_classification()) {
            std::vector<bool> present(static_cast<std::size_t>(data.num_classes()), false);
            for (std::int32_t label : data.labels) present[static_cast<std::size_t>(label)] = true;
            const auto count = std::count(present.begin(), present.end(), true);
            if (count < 2)
                throw Error(describe("--max-rows " + std::to_string(c.max_rows),
                                     "rows of at least 2 classes", "only " + std::to_string(count) + " class",
                                     "take more rows (the file may be sorted by class)"));
        }
    }
    Split split;
    if (!c.test_data.empty()) {
        Dataset test = load_dataset(c.test_data, c.test_labels, "--test-labels", csv);
        if (c.max_rows > 0) keep_first_rows(test, c.max_rows);
        if (data.is_classification()) align_classes(test, data);
        split = split_dataset(data, c.validation_fraction, 0.0, c.train.seed);
        split.test = append_rows(data, test);
    } else {
        split = split_dataset(data, c.validation_fraction, c.test_fraction, c.train.seed);
    }
    if (c.loss == Loss::binary_cross_entropy && data.num_classes() != 2)
        throw Error(describe("--loss bce", "a dataset with exactly 2 classes",
                             std::to_string(data.num_classes()) + " classes",
                             "use --loss cross_entropy for more classes"));
    Standardization standardization;
    if (c.standardize && !data.x.empty()) {
        standardization = resumed ? resumed->info.standardization : fit_standardization(data, split.train);
        apply_standardization(data, standardization);
    }

    ModelSpec spec;
    spec.sizes.push_back(data.features);
    spec.sizes.insert(spec.sizes.end(), c.hidden.begin(), c.hidden.end());
    spec.sizes.push_back(loss_output_size(c.loss, data.num_classes(), data.outputs));
    spec.hidden_activation = c.activation;
    spec.loss = c.loss;
    spec.dropout = c.dropout;
    const Model model(spec);

    TrainConfig& t = c.train;
    const auto train_rows = static_cast<std::int64_t>(split.train.size());
    const std::int64_t steps_per_epoch = (train_rows + t.batch_size - 1) / t.batch_size;
    if (c.lr_reference_batch > 0)
        t.schedule.lr *= static_cast<float>(t.batch_size) / static_cast<float>(c.lr_reference_batch);
    t.schedule.step_every = c.lr_step_epochs * steps_per_epoch;
    t.schedule.total_steps = t.epochs * steps_per_epoch;

    check_ranks_agree(comm, saved_config, spec, data);
    if (t.batch_size > train_rows) {
        if (!c.quiet)
            std::cout << "note: --batch-size " << t.batch_size << " is larger than the " << train_rows
                      << " training rows; each step uses all of them\n";
        t.batch_size = train_rows;  // also bounds the workspaces by the data, not the flag
    }
    Trainer trainer(model, t, regression ? data.outputs : 0, &comm);
    if (resumed) restore_trainer(trainer, *resumed);
    const CheckpointInfo checkpoint_info{spec, data.class_names, standardization, saved_config, !data.x_u8.empty()};
    // `--resume DIR` keeps checkpointing into DIR unless told otherwise.
    if (c.checkpoint_dir.empty() && !c.resume.empty() && std::filesystem::is_directory(c.resume))
        c.checkpoint_dir = c.resume;
    std::optional<CheckpointDir> checkpoints;
    if (leader && !c.checkpoint_dir.empty()) {
        // Never mix runs in one directory: pruning keeps the newest steps, which could be
        // another run's, and `latest` must name this run's newest checkpoint.
        const std::vector<std::int64_t> steps = checkpoint_steps(c.checkpoint_dir);
        if (!steps.empty() && !resumed)
            throw Error(describe("--checkpoint-dir " + c.checkpoint_dir, "an empty directory (or --resume from it)",
                                 "checkpoints of an earlier run, up to step " + std::to_string(steps.back()),
                                 "continue that run with --resume " + c.checkpoint_dir + ", or choose another directory"));
        if (!steps.empty() && steps.back() > resumed->step)
            throw Error(describe("--checkpoint-dir " + c.checkpoint_dir,
                                 "no checkpoint later than the resumed step " + std::to_string(resumed->step),
                                 "checkpoints up to step " + std::to_string(steps.back()),
                                 "resume from the directory's latest, or write to another --checkpoint-dir"));
        checkpoints.emplace(c.checkpoint_dir, static_cast<int>(c.keep_checkpoints));
    }
    // Created only now that every input has been checked; a resumed run appends.
    MetricsLog metrics(leader ? c.metrics_out : "", resumed.has_value());
    if (!c.quiet) {
        std::cout << "data: " << data.source << ": " << data.rows << " rows, " << data.features
                  << " features";
        if (data.is_classification()) {
            std::cout << ", " << data.num_classes() << " classes (";
            for (std::size_t i = 0; i < data.class_names.size(); ++i)
                std::cout << (i ? ", " : "") << i << "=" << data.class_names[i];
            std::cout << ")";
        }
        std::cout << "\nsplit: " << split.train.size() << " train, " << split.validation.size()
                  << " validation, " << split.test.size() << " test (seed " << t.seed << ")\n";
        std::cout << "model: " << spec.describe() << ", " << model.layout().parameter_count()
                  << " parameters\n";
        std::cout << "optimizer: " << optimizer_name(t.optimizer.kind) << " lr " << t.schedule.lr
                  << " (" << schedule_name(t.schedule.kind) << ")";
        if (t.optimizer.kind == OptimizerKind::sgd)
            std::cout << " momentum " << t.optimizer.momentum << (t.optimizer.nesterov ? " nesterov" : "");
        std::cout << ", batch " << t.batch_size << ", " << t.epochs << " epochs\n";
        std::cout << "parallel: " << trainer.threads() << " thread(s), " << trainer.shards()
                  << " shard(s) per batch; BLAS " << blas_description() << "\n";
        for (const std::string& notice : trainer.notices()) std::cout << notice << "\n";
        std::cout.flush();
    }

    if (resumed && !c.quiet)
        std::cout << "resumed from " << resumed->path << " at step " << trainer.step() << " (epoch "
                  << trainer.state().epoch << ", row " << trainer.state().position << ")\n";
    ProgressBar progress(leader && !c.quiet && stdout_is_terminal());
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGUSR1, on_stop_signal);
    FitCallbacks callbacks;
    callbacks.after_step = [&](const TrainState& state) {
        // Ranks agree on stopping at the same step boundary (a signal may reach one first).
        const int signal_here = stop_signal;
        const bool stop = comm.size() > 1 ? comm.any(signal_here != 0) : signal_here != 0;
        if (stop && comm.size() > 1) {
            // One exit status on every rank: SIGTERM over SIGINT over SIGUSR1.
            double seen[3] = {signal_here == SIGTERM ? 1.0 : 0.0, signal_here == SIGINT ? 1.0 : 0.0,
                              signal_here == SIGUSR1 ? 1.0 : 0.0};
            comm.allreduce_sum(seen, 3);
            stop_signal = seen[0] > 0 ? SIGTERM : seen[1] > 0 ? SIGINT : SIGUSR1;
        }
        const bool epoch_end = state.position == 0;
        const bool periodic = c.checkpoint_every > 0 && trainer.step() % c.checkpoint_every == 0;
        if (checkpoints && (epoch_end || periodic || stop)) {
            const auto start = std::chrono::steady_clock::now();
            const std::string path = checkpoints->save(trainer, checkpoint_info);
            if (c.verbose) {
                progress.clear();
                const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
                std::cout << "checkpoint: " << path << " (" << fixed(static_cast<double>(std::filesystem::file_size(path)) / 1e6, 1)
                          << " MB, written and synced in " << fixed(ms, 1) << " ms)\n";
            }
        }
        if (stop) {
            progress.clear();
            std::cout << "stopped by signal " << stop_signal << " at step " << trainer.step() << " (epoch "
                      << state.epoch << ", row " << state.position << ")";
            if (checkpoints) std::cout << "; checkpoint in " << c.checkpoint_dir << ", continue with --resume " << c.checkpoint_dir;
            else std::cout << "; no --checkpoint-dir, nothing saved";
            std::cout << "\n";
            std::cout.flush();
            return false;
        }
        if (!epoch_end)  // at an epoch's end the epoch line has just replaced the bar
            progress.update(state.epoch, t.epochs, state.position, train_rows,
                            state.epoch_loss_sum / static_cast<double>(state.position));
        return true;
    };
    callbacks.on_epoch = [&](const EpochReport& r) {
        if (comm.size() > 1) {  // replicas must hold the same weights after every epoch
            const int rank = comm.first_disagreeing_rank(fingerprint64(
                reinterpret_cast<const unsigned char*>(trainer.params()),
                static_cast<std::int64_t>(sizeof(float)) * model.layout().total()));
            if (rank >= 0)
                throw Error(describe("rank " + std::to_string(rank) + " after epoch " + std::to_string(r.epoch),
                                     "the weights of rank 0", "different weights",
                                     "the replicas diverged; check that every node runs the same binary on the same CPU type"));
        }
        metrics.write(r);
        progress.clear();
        if (c.quiet) return;
        std::cout << "epoch " << r.epoch << "/" << t.epochs << "  train_loss " << fixed(r.train_loss, 4);
        if (r.validation)
            std::cout << "  val_loss " << fixed(r.validation->loss, 4) << (data.is_classification()
                      ? "  val_acc " + fixed(r.validation->accuracy, 4) : "");
        std::cout << "  lr " << r.learning_rate << "  " << fixed(r.samples_per_second, 0)
                  << " samples/s  " << fixed(r.seconds, 2) << " s" << (r.best ? "  *best" : "") << "\n";
        std::cout.flush();
    };
    if (!trainer.fit(data, split, callbacks)) return exit_status_for(stop_signal);

    if (trainer.state().epochs_since_best >= t.patience && t.patience > 0 && !c.quiet)
        std::cout << "early stopping: no better validation loss for " << t.patience
                  << " epochs; restored the best weights\n";
    if (!split.test.empty()) {
        std::vector<std::int32_t> predicted;
        const EvalResult test = trainer.evaluate(data, split.test, &predicted);
        std::cout << "test: loss " << fixed(test.loss, 4);
        if (data.is_classification()) std::cout << "  accuracy " << fixed(test.accuracy, 4);
        std::cout << "  (" << test.rows << " rows)\n";
        if (c.verbose && data.is_classification()) {
            std::vector<std::int32_t> truth;
            for (std::int64_t row : split.test) truth.push_back(data.labels[static_cast<std::size_t>(row)]);
            const auto counts = confusion_matrix(truth, predicted, data.num_classes());
            std::cout << "confusion matrix (rows: true class, columns: predicted):\n";
            for (std::size_t i = 0; i < counts.size(); ++i) {
                std::cout << "  " << data.class_names[i] << ":";
                for (std::int64_t n : counts[i]) std::cout << " " << n;
                std::cout << "\n";
            }
        }
    }
    std::cout << "weights fingerprint: " << trainer.weights_fingerprint() << "\n";
    return 0;
}

}  // namespace mlptrain::cli
