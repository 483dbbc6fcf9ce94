// mlptrain's library in one include: a training run from a RunConfig (prepare_run, then
// fit with a RunObserver), and a saved model's evaluation and predictions. The parts below
// it (core, nn, data, engine, storage) can be included one by one; see README.md.
#pragma once

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/run/fit.hpp"
#include "mlptrain/run/gemm_selection.hpp"
#include "mlptrain/run/inference.hpp"
#include "mlptrain/run/prepare.hpp"
#include "mlptrain/run/settings.hpp"
