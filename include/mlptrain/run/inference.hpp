// A trained model put to use: loading it from a checkpoint, loading data the way it was
// trained on (its features, its classes by name, its standardization), and forward passes
// over that data on every worker thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mlptrain/core/metrics.hpp"
#include "mlptrain/data/dataset.hpp"
#include "mlptrain/engine/train_state.hpp"
#include "mlptrain/nn/model.hpp"
#include "mlptrain/storage/checkpoint.hpp"

namespace mlptrain {

struct SavedModel {
    LoadedCheckpoint checkpoint;

    const CheckpointInfo& info() const { return checkpoint.info; }
    const ModelSpec& spec() const { return checkpoint.info.spec; }
    const float* params() const { return checkpoint.params(); }
    // Regression models have numeric outputs and no class names (train loads the data that
    // way exactly when the loss is mse on a CSV file).
    bool regression() const { return checkpoint.info.class_names.empty(); }
    std::int64_t inputs() const { return spec().sizes.front(); }
    std::int64_t outputs() const { return spec().sizes.back(); }
};

// A checkpoint file, or a checkpoint directory's newest that loads. `what` names the path
// in messages (e.g. a flag). Throws Error.
SavedModel load_model(const std::string& dir_or_file, const std::string& what = "model");

// Where the data for a model comes from.
struct ModelData {
    ModelData(std::string data_path = "") : path(std::move(data_path)) {}

    std::string path;         // CSV, or IDX images
    std::string label;        // CSV label column (name or 0-based index); empty: the last
    bool label_given = false;
    std::string idx_labels;   // IDX labels (default: found by the usual naming)
};

enum class Labels {
    required,  // evaluation: the labels or targets are read and mapped onto the model's
    optional,  // prediction: a CSV with exactly the model's input columns has no label
               // column; labels are not read (placeholders stand in)
};

// Loads data for `model`: the features must be the model's inputs in its format (CSV or
// IDX), class labels are mapped onto the model's classes by name, and the model's
// standardization is applied. Throws Error naming the file and what does not fit.
Dataset load_model_data(const SavedModel& model, const ModelData& source, Labels labels);

// The GEMMs a saved model runs with here: those its run computed with (so that evaluating
// its test rows repeats the test result train printed) when this build and CPU can run
// them, else OpenBLAS fp32; `note` (if given) then says so, and is "" otherwise.
GemmSettings model_gemm(const SavedModel& model, std::string* note = nullptr);

// Mean loss and accuracy of `model` over every row of `data` (as load_model_data returns
// it), on `threads` threads (0: all); predicted (if given) gets each row's class. For a
// regression model the loss is the mse in the targets' original units, and `regression`
// (if given) gets the RMSE and R². Throws NumericError when an output is NaN or Inf. Both
// this and predict() run on the process's BLAS core (process_blas_core: selected
// automatically here when nothing selected it before), with the model's GEMMs (model_gemm).
EvalResult evaluate(const SavedModel& model, const Dataset& data, int threads = 0,
                    std::vector<std::int32_t>* predicted = nullptr, RegressionScore* regression = nullptr);

// The network outputs (rows × outputs: probabilities, or regression values in the targets'
// original units) for every row of `data`; predicted (if given) gets each row's class.
// Throws NumericError when an output is NaN or Inf.
std::vector<float> predict(const SavedModel& model, const Dataset& data, int threads = 0,
                           std::vector<std::int32_t>* predicted = nullptr);

// What the units of hidden layer `layer` compute for every row of `data`: rows ×
// spec.sizes[layer] values, after the layer's activation function (no dropout, as in
// prediction). Layers count as in spec.sizes: 1 is the first hidden layer, num_layers() − 1
// the last. Throws Error for a layer the model lacks. `gemm`: e.g. model_gemm of the model.
std::vector<float> hidden_activations(const ModelSpec& spec, const float* params, const Dataset& data, int layer,
                                      int threads = 0, GemmSettings gemm = {});

// The parts a run splits its data into.
enum class RunPart { train, validation, test };

// The rows the run that saved `model` used as `part`, standardized with the model's map,
// ready for evaluate(): the data files its saved configuration names (paths as train was
// given them: relative ones from the current directory) loaded and split again by the same
// rules (prepare.hpp: load_run_data). Given the same files, evaluating the test part gives
// the test result train reported. Throws Error if a file cannot be read or the part is empty.
Dataset load_run_part(const SavedModel& model, RunPart part);

}  // namespace mlptrain
