// `mlptrain train`: parse the flags into a RunConfig, prepare and fit the run with the
// library, and print what happens — a header, a line per epoch (a progress bar between
// them on a terminal), the test result and the weights fingerprint.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include "blas_core_option.hpp"
#include "commands.hpp"
#include "metrics_log.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/engine/launch_check.hpp"
#include "mlptrain/run/fit.hpp"
#include "options.hpp"
#include "progress.hpp"

namespace mlptrain::cli {
namespace {

// Preemption: SIGTERM, SIGINT and SIGUSR1 only set this flag; the run notices it at the
// next step boundary, checkpoints, and exits with the signal's documented status.
volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_stop_signal(int signal) { stop_signal = signal; }

// Stop requests as the run's ranks agree on them (the largest wins): SIGTERM over SIGINT
// over SIGUSR1, so that every rank exits with one status.
int stop_request_of(int signal) { return signal == SIGTERM ? 3 : signal == SIGINT ? 2 : signal == SIGUSR1 ? 1 : 0; }
int signal_of(int request) { return request == 3 ? SIGTERM : request == 2 ? SIGINT : SIGUSR1; }

// Exit statuses after a signal (README): SIGUSR1 "checkpointed, requeue me" 75
// (EX_TEMPFAIL), SIGTERM 143 and SIGINT 130 (the shell's 128 + signal).
int exit_status_for(int signal) { return signal == SIGUSR1 ? 75 : 128 + signal; }

void print_header(const PreparedRun& run, const RunStart& start) {
    const Dataset& data = run.data;
    const TrainConfig& t = run.train;
    std::cout << "data: " << data.source << ": " << data.rows << " rows, " << data.features << " features";
    if (data.is_classification()) {
        std::cout << ", " << data.num_classes() << " classes (";
        for (std::size_t i = 0; i < data.class_names.size(); ++i)
            std::cout << (i ? ", " : "") << i << "=" << data.class_names[i];
        std::cout << ")";
    }
    std::cout << "\nsplit: " << run.split.train.size() << " train, " << run.split.validation.size() << " validation, "
              << run.split.test.size() << " test (seed " << t.seed << ")\n";
    std::cout << "model: " << run.spec.describe() << ", " << start.parameters << " parameters\n";
    std::cout << "optimizer: " << optimizer_name(t.optimizer.kind) << " lr " << t.schedule.lr << " ("
              << schedule_name(t.schedule.kind) << ")";
    if (t.optimizer.kind == OptimizerKind::sgd)
        std::cout << " momentum " << t.optimizer.momentum << (t.optimizer.nesterov ? " nesterov" : "");
    std::cout << ", batch " << t.batch_size << ", " << t.epochs << " epochs\n";
    std::cout << "parallel: " << start.threads << " thread(s), " << start.shards << " shard(s) per batch; BLAS "
              << blas_description() << "\n";
    std::cout << blas_core_lines(start.blas);
    // OpenBLAS fp32, the default, is the BLAS line above; anything else gets its own line.
    if (start.gemm != GemmSettings{}) std::cout << "gemm: " << describe_gemm(start.gemm) << "\n";
    for (const std::string& notice : start.notices) std::cout << cli_message(Error(notice)) << "\n";
}

void print_test_result(const PreparedRun& run, const FitResult& result, bool verbose) {
    const Dataset& data = run.data;
    const EvalResult& test = *result.test;
    std::cout << "test: loss " << format_fixed(test.loss, 4);
    if (data.is_classification()) std::cout << "  accuracy " << format_fixed(test.accuracy, 4);
    std::cout << "  (" << test.rows << " rows)\n";
    if (const auto& score = result.test_regression)  // the loss above is the mse in these units
        std::cout << "test: rmse " << format_fixed(score->rmse, 4) << "  r2 " << format_fixed(score->r2, 4)
                  << "  (predicting the mean: rmse " << format_fixed(score->mean_rmse, 4) << ")\n";
    if (!verbose || !data.is_classification()) return;
    std::vector<std::int32_t> truth;
    for (std::int64_t row : run.split.test) truth.push_back(data.labels[static_cast<std::size_t>(row)]);
    const auto counts = confusion_matrix(truth, result.test_predicted, data.num_classes());
    std::cout << "confusion matrix (rows: true class, columns: predicted):\n";
    for (std::size_t i = 0; i < counts.size(); ++i) {
        std::cout << "  " << data.class_names[i] << ":";
        for (std::int64_t n : counts[i]) std::cout << " " << n;
        std::cout << "\n";
    }
}

// What the user sees while the run goes: the header, epoch lines, a progress bar on a
// terminal, checkpoint lines with --verbose, the metrics log; and the signals as requests.
// No progress bar in an MPI job: Open MPI's mpirun gives every rank a pseudo-terminal as
// stdout even when its own output goes to a file (a Slurm log), so isatty() cannot tell.
class TrainPrinter : public RunObserver {
public:
    TrainPrinter(const PreparedRun& run, const TrainArgs& args, const Communicator& comm)
        : run_(run),
          args_(args),
          leader_(comm.rank() == 0),
          progress_(leader_ && comm.size() == 1 && !args.quiet && stdout_is_terminal()) {}

    void on_start(const RunStart& start) override {
        // Created only now that every input has been checked; a resumed run appends.
        metrics_ = std::make_unique<MetricsLog>(leader_ ? args_.metrics_out : "", start.resumed);
        if (args_.quiet) return;
        print_header(run_, start);
        if (start.resumed)
            std::cout << "resumed from " << start.resumed_from << " at step " << start.step << " (epoch "
                      << start.state.epoch << ", row " << start.state.position << ")\n";
        std::cout.flush();
    }
    void on_step(const TrainState& state, std::int64_t) override {
        const auto rows = static_cast<std::int64_t>(run_.split.train.size());
        progress_.update(state.epoch, run_.train.epochs, state.position, rows,
                         state.epoch_loss_sum / static_cast<double>(state.position));
    }
    void on_epoch(const EpochReport& r) override {
        metrics_->write(r);
        progress_.clear();
        if (args_.quiet) return;
        std::cout << "epoch " << r.epoch << "/" << run_.train.epochs << "  train_loss " << format_fixed(r.train_loss, 4);
        if (r.validation)
            std::cout << "  val_loss " << format_fixed(r.validation->loss, 4)
                      << (run_.data.is_classification() ? "  val_acc " + format_fixed(r.validation->accuracy, 4) : "");
        std::cout << "  lr " << r.learning_rate << "  " << format_fixed(r.samples_per_second, 0) << " samples/s  "
                  << format_fixed(r.seconds, 2) << " s" << (r.best ? "  *best" : "") << "\n";
        std::cout.flush();
    }
    void on_checkpoint(const std::string& path, double seconds) override {
        if (!args_.verbose) return;
        progress_.clear();
        const double megabytes = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
        std::cout << "checkpoint: " << path << " (" << format_fixed(megabytes, 1) << " MB, written and synced in "
                  << format_fixed(seconds * 1e3, 1) << " ms)\n";
    }
    int stop_request() override { return stop_request_of(stop_signal); }
    void clear() { progress_.clear(); }

private:
    const PreparedRun& run_;
    const TrainArgs& args_;
    bool leader_;
    ProgressBar progress_;
    std::unique_ptr<MetricsLog> metrics_;
};

int train(const std::vector<std::string>& args, Communicator& comm) {
    if (comm.rank() != 0) std::cout.setstate(std::ios::badbit);  // only rank 0 prints
    const TrainArgs parsed = parse_train_args(args);
    if (parsed.help) {
        std::cout << train_help();
        return 0;
    }
    ConfigSources sources;
    std::optional<LoadedCheckpoint> resume;
    PreparedRun run;
    try {
        RunConfig config = build_run_config(parsed, resume, sources);
        refuse_outputs_over_inputs(parsed, config);
        run = prepare_run(config, std::move(resume));
    } catch (const Error& e) {
        rethrow_for_cli(e, &sources);
    }
    for (const std::string& note : run.notes) {
        if (note.rfind("warning:", 0) == 0) std::cerr << "mlptrain: " << cli_message(Error(note)) << "\n";
        else if (!parsed.quiet) std::cout << cli_message(Error(note)) << "\n";
    }
    TrainPrinter printer(run, parsed, comm);
    // SIGTERM and SIGUSR1 are taken since run_train; Ctrl-C ends a slow load at once until now.
    std::signal(SIGINT, on_stop_signal);
    const FitResult result = fit(run, printer, &comm);
    if (!result.finished) {
        printer.clear();
        const int signal = signal_of(result.stop_request);
        std::cout << "stopped by signal " << signal << " at step " << result.step << " (epoch " << result.state.epoch
                  << ", row " << result.state.position << ")";
        if (!result.checkpoint_dir.empty())
            std::cout << "; checkpoint in " << result.checkpoint_dir << ", continue with --resume " << result.checkpoint_dir;
        else std::cout << "; no --checkpoint-dir, nothing saved";
        std::cout << std::endl;
        return exit_status_for(signal);
    }
    if (result.stopped_early && !parsed.quiet)
        std::cout << "early stopping: no better validation loss for " << run.train.patience
                  << " epochs; restored the best weights\n";
    if (result.test) print_test_result(run, result, parsed.verbose);
    std::cout << "weights fingerprint: " << result.weights_fingerprint << "\n";
    return 0;
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
    // MPI starts here when launched by mpirun/srun; the communicator ends it.
    const std::unique_ptr<Communicator> comm = make_communicator(nullptr, nullptr);
    // From here on SIGUSR1 and SIGTERM are remembered, not fatal: one that arrives while the
    // data loads (a batch script forwards --signal=B:USR1 at any moment) stops the run at its
    // first step boundary with a checkpoint and exit 75/143, instead of killing the process
    // (138/143) with nothing saved.
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGUSR1, on_stop_signal);
    // Several tasks that MPI does not join would each train alone into the same files.
    const std::string launch_problem = check_launch(comm->size());
    if (!launch_problem.empty()) throw Error(launch_problem);
    try {
        return train(args, *comm);
    } catch (const Error& e) {
        if (comm->size() == 1) throw;  // main prints it
        // Other ranks may be waiting in a collective: print, then end the whole job.
        std::cout.flush();
        std::cerr << "mlptrain: error: rank " << comm->rank() << ": " << cli_message(e) << "\n";
        std::cerr.flush();
        comm->abort(e.exit_status());
    }
    return 1;  // not reached: abort ends the process
}

}  // namespace mlptrain::cli
