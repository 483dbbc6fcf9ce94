// The `train` command line (Boost.Program_options lives only in src/cli/): flags and a
// --config file become a RunConfig in two phases — first to learn whether the run resumes,
// then with the resumed checkpoint's saved configuration underneath — and library errors
// are rendered with the flag, or the config file's line, where the user wrote each value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/storage/checkpoint.hpp"

namespace mlptrain::cli {

// `train`'s own options (not settings of the run) and the settings given as flags.
struct TrainArgs {
    std::vector<ConfigEntry> flags;  // settings from the command line, in order (line 0)
    std::string config_file;         // --config
    std::string metrics_out;
    bool quiet = false;
    bool verbose = false;
    bool help = false;
};

// Parses `train` arguments against the settings table and train's own options. Throws Error.
TrainArgs parse_train_args(const std::vector<std::string>& args);
// The generated `mlptrain train --help` text.
std::string train_help();

// Where each setting's value came from, for messages: a flag, or a config file's line.
class ConfigSources {
public:
    void from_flag(const std::string& field) { where_[field] = ""; }
    void from_file(const std::string& field, const std::string& file, int line);
    // "--batch-size", or "run.cfg, line 2, key 'batch-size'".
    std::string where(const std::string& field) const;

private:
    std::map<std::string, std::string> where_;
};

// The run's configuration: defaults, then a resumed checkpoint's saved configuration, then
// the --config file, then the flags. `resume` receives the checkpoint when the flags or the
// file ask to resume. Throws Error with the value's source in the message.
RunConfig build_run_config(const TrainArgs& args, std::optional<LoadedCheckpoint>& resume, ConfigSources& sources);

// Refuses (Error, before anything is written) a --metrics-out that names one of the run's
// inputs: a data or labels file, the --config file or the checkpoint resumed from.
void refuse_outputs_over_inputs(const TrainArgs& args, const RunConfig& config);

// A library error as the command line says it: field references as flags ("--lr"), a
// ConfigError's field where its value was written.
std::string cli_message(const Error& error, const ConfigSources* sources = nullptr);
// The same error type (exit status) with that message.
[[noreturn]] void rethrow_for_cli(const Error& error, const ConfigSources* sources = nullptr);

}  // namespace mlptrain::cli
