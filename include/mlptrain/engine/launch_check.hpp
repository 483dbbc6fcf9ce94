// The duplicate-job guard: is this process one of several tasks that a launcher started
// together but that MPI does not join into one job? Then each task would train the same
// model alone and all would write the same checkpoint directory and metrics file. A pure
// function of the environment, so that tests can give it any launcher's variables.
#pragma once

#include <functional>
#include <string>

namespace mlptrain {

// Looks up an environment variable; nullptr when unset (std::getenv in production).
using EnvLookup = std::function<const char*(const char*)>;

// The problem with this launch in one sentence with a hint, or "" when it is fine: a
// launcher says it started more than one task, but `mpi_size` (the communicator's size, 1
// when MPI was not initialized) is 1, or this build has no MPI at all.
//
// Which variables count (read in this order; the first one set decides):
//   OMPI_COMM_WORLD_SIZE   Open MPI's mpirun
//   PMI_SIZE               MPICH/Hydra, and srun --mpi=pmi2
//   MV2_COMM_WORLD_SIZE    MVAPICH2's mpirun_rsh
//   SLURM_STEP_NUM_TASKS   srun, whatever --mpi says (set for every task of a job step)
// Not SLURM_NTASKS: the batch script of an sbatch --ntasks=4 job already has it, and there
// one mlptrain process (or mpirun) legitimately runs alone. srun --mpi=pmix sets no size
// variable (only PMIX_RANK), so it is judged by SLURM_STEP_NUM_TASKS like --mpi=none.
//
// MLPTRAIN_INDEPENDENT_TASKS=1 turns the guard off, for tasks that are independent on
// purpose (`srun -n 4` running a seed sweep, each task with its own output paths).
std::string check_launch(const EnvLookup& getenv, int mpi_size, bool built_with_mpi);

// The same for this process: its environment and this build (built_with_mpi()).
std::string check_launch(int mpi_size);

}  // namespace mlptrain
