// The duplicate-job guard decides from the environment alone: several tasks that MPI does not
// join are refused, one process and real MPI jobs are not, whatever launcher started them.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "mlptrain/engine/launch_check.hpp"

using mlptrain::check_launch;

namespace {

// An environment made of the given variables only.
mlptrain::EnvLookup env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

}  // namespace

// Outside any launcher, or as the only task, nothing is refused.
TEST_CASE("one process is fine") {
    CHECK(check_launch(env({}), 1, true).empty());
    CHECK(check_launch(env({}), 1, false).empty());
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "1"}, {"SLURM_PROCID", "0"}}), 1, true).empty());
}

// sbatch --ntasks=2 sets SLURM_NTASKS for the batch script, where mlptrain runs alone.
TEST_CASE("the batch script of a multi-task job may run one process") {
    CHECK(check_launch(env({{"SLURM_NTASKS", "2"}, {"SLURM_JOB_ID", "7"}}), 1, true).empty());
    CHECK(check_launch(env({{"SLURM_NTASKS", "4"}}), 1, false).empty());
}

// srun --mpi=none -n 2: two tasks, no MPI between them.
TEST_CASE("srun without an MPI plugin is refused, naming srun --mpi=pmix") {
    const std::string message =
        check_launch(env({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "1"}}), 1, true);
    CHECK(message.find("task 1 of 2") != std::string::npos);
    CHECK(message.find("SLURM_STEP_NUM_TASKS=2") != std::string::npos);
    CHECK(message.find("srun --mpi=pmix") != std::string::npos);
    CHECK(message.find("MpiDefault=pmix") != std::string::npos);
}

// srun --mpi=pmix -n 2 with a working MPI: one job of two ranks.
TEST_CASE("a real MPI job is fine") {
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "2"}, {"PMIX_RANK", "0"}}), 2, true).empty());
    CHECK(check_launch(env({{"OMPI_COMM_WORLD_SIZE", "4"}, {"SLURM_NTASKS", "2"}}), 4, true).empty());
}

// mpirun -np 2 whose ranks did not find each other (e.g. a PMI mismatch) are singletons.
TEST_CASE("MPI launchers whose ranks end up alone are refused") {
    CHECK_FALSE(check_launch(env({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "0"}}), 1, true).empty());
    CHECK_FALSE(check_launch(env({{"PMI_SIZE", "2"}, {"PMI_RANK", "1"}}), 1, true).empty());
    CHECK_FALSE(check_launch(env({{"MV2_COMM_WORLD_SIZE", "3"}}), 1, true).empty());
}

// A build without MPI says so instead of pointing at srun's plugins.
TEST_CASE("a build without MPI names the rebuild") {
    const std::string message = check_launch(env({{"SLURM_STEP_NUM_TASKS", "2"}}), 1, false);
    CHECK(message.find("built without MPI") != std::string::npos);
    CHECK(message.find("libopenmpi-dev") != std::string::npos);
}

// An MPI launcher's own count outranks srun's: srun -n 1 mpirun -np 1 is one process.
TEST_CASE("the first variable set decides; garbage counts as unset") {
    CHECK(check_launch(env({{"OMPI_COMM_WORLD_SIZE", "1"}, {"SLURM_STEP_NUM_TASKS", "2"}}), 1, true).empty());
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "two"}}), 1, true).empty());
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "-3"}}), 1, true).empty());
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", ""}}), 1, true).empty());
}

// The documented opt-out for tasks that are independent on purpose (a seed sweep under
// srun -n 4): exactly "1" turns the guard off; anything else leaves it on.
TEST_CASE("MLPTRAIN_INDEPENDENT_TASKS=1 allows independent tasks") {
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "4"}, {"MLPTRAIN_INDEPENDENT_TASKS", "1"}}), 1, true).empty());
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "4"}, {"MLPTRAIN_INDEPENDENT_TASKS", "1"}}), 1, false).empty());
    CHECK_FALSE(check_launch(env({{"SLURM_STEP_NUM_TASKS", "4"}, {"MLPTRAIN_INDEPENDENT_TASKS", "0"}}), 1, true).empty());
    CHECK_FALSE(check_launch(env({{"SLURM_STEP_NUM_TASKS", "4"}, {"MLPTRAIN_INDEPENDENT_TASKS", ""}}), 1, true).empty());
    // The refusal names the opt-out, so that a deliberate sweep finds it.
    CHECK(check_launch(env({{"SLURM_STEP_NUM_TASKS", "4"}}), 1, true).find("MLPTRAIN_INDEPENDENT_TASKS=1") !=
          std::string::npos);
}
