// The subcommands of the mlptrain binary. Each takes the arguments after its name and
// returns the process exit status; errors are thrown as mlptrain::Error and reported by main.
#pragma once

#include <string>
#include <vector>

namespace mlptrain::cli {

int run_train(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
int run_evaluate(const std::vector<std::string>& args);
int run_predict(const std::vector<std::string>& args);

}  // namespace mlptrain::cli
