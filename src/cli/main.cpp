// mlptrain's entry point: dispatches to a subcommand and turns errors into one message on
// stderr and an exit status (2 bad input, 3 numeric failure).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "commands.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"
#include "options.hpp"

static const char* usage =
    "usage: mlptrain <command> [options]\n"
    "\n"
    "commands:\n"
    "  train      train a network on a CSV or IDX dataset   (mlptrain train --help)\n"
    "  evaluate   loss, accuracy and confusion matrix of a saved model on data (mlptrain evaluate --help)\n"
    "  predict    write a saved model's predictions for data to a CSV file (mlptrain predict --help)\n"
    "  bench      measure training throughput against the GEMM ceiling (mlptrain bench --help)\n"
    "\n"
    "  --version   print the version\n"
    "  --help      print this help\n";

// Runs the command named by args[0]; errors become one message on stderr and a status.
static int run_command(std::vector<std::string> args) {
    try {
        if (args.empty()) {
            std::cerr << usage;
            return 2;
        }
        const std::string command = args[0];
        args.erase(args.begin());
        if (command == "--version" || command == "version") {
            std::cout << "mlptrain " << MLPTRAIN_VERSION << "\n";
            return 0;
        }
        if (command == "--help" || command == "-h" || command == "help") {
            std::cout << usage;
            return 0;
        }
        if (command == "train") return mlptrain::cli::run_train(args);
        if (command == "bench") return mlptrain::cli::run_bench(args);
        if (command == "evaluate") return mlptrain::cli::run_evaluate(args);
        if (command == "predict") return mlptrain::cli::run_predict(args);
        throw mlptrain::Error("unknown command " + mlptrain::quote(command) +
                              ": expected train, evaluate, predict or bench (hint: mlptrain --help)");
    } catch (const mlptrain::Error& e) {
        std::cout.flush();
        std::cerr << "mlptrain: error: " << mlptrain::cli::cli_message(e) << "\n";
        return e.exit_status();
    } catch (const std::bad_alloc&) {
        std::cerr << "mlptrain: error: out of memory (hint: a smaller --batch-size, network or "
                     "dataset)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mlptrain: internal error: " << e.what() << "\n";
        return 1;
    }
}

// Results that never reached standard output (a full disk, a closed pipe) are a failure,
// not a success: stdout is flushed and checked before the status is returned.
static int check_stdout(int status) {
    std::cout.flush();
    if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return status;
    const int err = errno;
    std::cerr << "mlptrain: error: cannot write to standard output: " << std::strerror(err)
              << " (hint: the results were lost; check the disk or the pipe it writes to)\n";
    return status == 0 ? 2 : status;
}

int main(int argc, char** argv) { return check_stdout(run_command(std::vector<std::string>(argv + 1, argv + argc))); }
