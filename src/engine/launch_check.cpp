// The duplicate-job guard (see launch_check.hpp): compares the task count that the launcher
// announces in the environment with the size of the MPI job this process joined.
#include "mlptrain/engine/launch_check.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "mlptrain/engine/communicator.hpp"

namespace mlptrain {

namespace {

// A positive task count, or 0 when `text` is unset or not a plain positive integer.
long parse_count(const char* text) {
    if (text == nullptr || *text == '\0') return 0;
    errno = 0;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1) return 0;
    return value;
}

// "task 3" from the launcher's rank variable, or "a task" when none is set.
std::string task_name(const EnvLookup& getenv) {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"})
        if (const char* rank = getenv(name)) return "task " + std::string(rank);
    return "a task";
}

}  // namespace

std::string check_launch(const EnvLookup& getenv, int mpi_size, bool built_with_mpi) {
    const char* independent = getenv("MLPTRAIN_INDEPENDENT_TASKS");
    if (independent && std::strcmp(independent, "1") == 0) return "";
    const char* source = nullptr;
    long tasks = 0;
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS"}) {
        tasks = parse_count(getenv(name));
        if (tasks > 0) {
            source = name;
            break;
        }
    }
    if (tasks <= 1 || mpi_size > 1) return "";

    const std::string started = "started as " + task_name(getenv) + " of " + std::to_string(tasks) + " (" + source +
                                "=" + std::to_string(tasks) + ")";
    const std::string independent_hint =
        "; tasks independent on purpose, each with its own output paths: MLPTRAIN_INDEPENDENT_TASKS=1";
    if (!built_with_mpi)
        return started + " but this mlptrain was built without MPI, so every task would train alone and write the "
                         "same files (hint: install libopenmpi-dev and rebuild, then launch with srun --mpi=pmix or "
                         "mpirun; or start one task" +
               independent_hint + ")";
    return started + " but MPI sees a single process, so every task would train alone and write the same files "
                     "(hint: launch with srun --mpi=pmix, or set MpiDefault=pmix in slurm.conf; srun --mpi=list "
                     "shows the plugins" +
           independent_hint + ")";
}

std::string check_launch(int mpi_size) {
    return check_launch([](const char* name) -> const char* { return std::getenv(name); }, mpi_size,
                        built_with_mpi());
}

}  // namespace mlptrain
