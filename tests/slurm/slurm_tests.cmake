# The Slurm scenarios (tests/slurm/slurm_scenario.sh) under the `slurm` label, which
# scripts/test.sh leaves out and scripts/slurm_tests.sh runs (`ctest -L slurm`). One private
# one-node cluster serves them all: the fixture's setup test starts it and its cleanup test
# stops it (CTest runs the cleanup also after failures, and fails it if a daemon or the
# directory survives). The scenarios share it one at a time (RESOURCE_LOCK); each cancels its
# own jobs and removes its own files. All exit 77, reported as skipped with the reason, where
# Slurm is not installed or they do not run as root. Included from CMakeLists.txt.
set(MLPTRAIN_SLURM_SCENARIOS straight preempt timelimit requeue duplicate mpi mpi_resize)
if(MPIEXEC_EXECUTABLE)
  list(APPEND MLPTRAIN_SLURM_SCENARIOS mpirun)
endif()
# The cluster's directory, one per build tree so that two checkouts never share a cluster;
# under /tmp, which the munge user can reach (a build tree may sit in a private home).
string(SHA1 MLPTRAIN_SLURM_BUILD_ID "${PROJECT_BINARY_DIR}")
string(SUBSTRING "${MLPTRAIN_SLURM_BUILD_ID}" 0 10 MLPTRAIN_SLURM_BUILD_ID)
set(MLPTRAIN_SLURM_TEST_ENV
    "MLPTRAIN_BINARY=$<TARGET_FILE:mlptrain>"
    "MLPTRAIN_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "MLPTRAIN_SLURM_DIR=/tmp/mlptrain-slurm-ctest-${MLPTRAIN_SLURM_BUILD_ID}")
set(MLPTRAIN_SLURM_DRIVER ${PROJECT_SOURCE_DIR}/tests/slurm/slurm_scenario.sh)

add_test(NAME slurm_cluster_start COMMAND ${MLPTRAIN_SLURM_DRIVER} cluster-start)
add_test(NAME slurm_cluster_stop COMMAND ${MLPTRAIN_SLURM_DRIVER} cluster-stop)
set_tests_properties(slurm_cluster_start PROPERTIES FIXTURES_SETUP slurm_cluster TIMEOUT 120)
set_tests_properties(slurm_cluster_stop PROPERTIES FIXTURES_CLEANUP slurm_cluster TIMEOUT 120)
set(MLPTRAIN_SLURM_TESTS slurm_cluster_start slurm_cluster_stop)
foreach(scenario ${MLPTRAIN_SLURM_SCENARIOS})
  add_test(NAME slurm_${scenario} COMMAND ${MLPTRAIN_SLURM_DRIVER} ${scenario})
  set_tests_properties(slurm_${scenario} PROPERTIES FIXTURES_REQUIRED slurm_cluster TIMEOUT 360)
  list(APPEND MLPTRAIN_SLURM_TESTS slurm_${scenario})
endforeach()
set_tests_properties(${MLPTRAIN_SLURM_TESTS} PROPERTIES
  LABELS slurm
  RESOURCE_LOCK slurm_cluster
  SKIP_RETURN_CODE 77
  ENVIRONMENT "${MLPTRAIN_SLURM_TEST_ENV}")
