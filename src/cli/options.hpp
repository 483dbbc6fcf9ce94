// Command-line parsing (Boost.Program_options lives only in src/cli/): turns argv and an
// optional --config file into a validated RunConfig; every error names its flag.
#pragma once

#include <string>
#include <vector>

#include "mlptrain/run/config.hpp"

namespace mlptrain::cli {

// Parsed `train` arguments. help_text is set (and config unset) when --help was given.
struct TrainArgs {
    RunConfig config;
    std::string help_text;
};

// `base_config` (key = value lines, e.g. a checkpoint's saved configuration) supplies
// values that neither the command line nor --config gives.
TrainArgs parse_train_args(const std::vector<std::string>& args, const std::string& base_config = "");

// The options that define a run's result (everything but threads, output and
// checkpointing), as `key = value` lines that parse_train_args reads back exactly.
std::string config_lines(const RunConfig& config);

// Strict number parsing for flag values: the whole text must be a number in range.
std::int64_t parse_int(const std::string& text, const std::string& flag);
double parse_real(const std::string& text, const std::string& flag);

}  // namespace mlptrain::cli
