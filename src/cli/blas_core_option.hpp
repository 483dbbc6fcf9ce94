// The blas_core setting on the commands that have their own flags (bench, evaluate,
// predict): the flag with the settings table's help text, its conversion, and the lines
// every command prints about the core it runs. `train` gets the flag from the table itself.
#pragma once

#include <boost/program_options.hpp>

#include <string>

#include "mlptrain/core/blas_core.hpp"
#include "mlptrain/run/blas_selection.hpp"

namespace mlptrain::cli {

// Adds --blas-core (auto|keep|NAME) to `desc`.
void add_blas_core_option(boost::program_options::options_description& desc);
// The option as given (auto when absent). Throws ConfigError naming blas_core.
BlasCoreOption blas_core_option(const boost::program_options::variables_map& vm);

// "blas core: Cooperlake: <why>; sgemm self-test passed (84 calls in 9.1 ms, 8.6 ms CPU)", then
// "note: <note>" when the selection has one; each line ends with '\n'.
std::string blas_core_lines(const BlasSelection& selection);
// The selection's reason or note as the command line says it (flags for field references).
std::string blas_core_text(const std::string& marked);

}  // namespace mlptrain::cli
