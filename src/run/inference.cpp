// Loading a trained model and data for it, and forward passes over that data (see
// inference.hpp).
#include "mlptrain/run/inference.hpp"

#include <string_view>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/cpu_features.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/csv.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/data/input.hpp"
#include "mlptrain/engine/evaluator.hpp"
#include "mlptrain/run/blas_selection.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/run/prepare.hpp"

namespace mlptrain {
namespace {

// The columns of a CSV input's header (quote-aware), peeked without consuming it, or -1 when
// the header is not found in the first 64 MiB: load_csv then reports the file properly.
std::int64_t csv_header_columns(Input& in) {
    for (std::size_t n = std::size_t{1} << 16; n <= (std::size_t{64} << 20); n *= 4) {
        const std::string_view head = in.peek(n);
        std::int64_t columns = 1;
        bool quoted = false;
        for (const char c : head) {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) ++columns;
            else if ((c == '\n' || c == '\r') && !quoted) return columns;
        }
        if (head.size() < n) return columns;  // the whole input is one line
    }
    return -1;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

Dataset read_model_data(const SavedModel& m, const ModelData& source, Labels labels) {
    Input in = Input::open(source.path);  // once: --data may be a pipe
    if (is_idx_input(in)) {
        if (labels == Labels::optional && source.idx_labels.empty()) return load_idx_images(in);
        const std::string labels_path = source.idx_labels.empty() ? idx_labels_path_for(source.path) : source.idx_labels;
        if (labels_path.empty())
            throw Error(describe(source.path, "an IDX labels file beside these IDX images", "none",
                                 "name it with " + field_ref("labels") + " FILE"));
        Input labels_in = Input::open(labels_path);
        return load_idx(in, labels_in);
    }
    CsvOptions csv;
    csv.label = source.label;
    csv.regression = m.regression();
    csv.no_label = labels == Labels::optional && !source.label_given && csv_header_columns(in) == m.inputs();
    return load_csv(in, csv);
}

void check_features(const SavedModel& m, const Dataset& data, Labels labels) {
    const bool idx = data.x.empty() && !data.x_u8.empty();
    if (idx != m.info().input_u8)
        throw Error(describe(data.source,
                             m.info().input_u8 ? "IDX images like the model's training data (uint8 pixels, scaled by 1/255)"
                                               : "a CSV file like the model's training data",
                             idx ? "IDX images" : "a CSV file", "give data in the format the model was trained on"));
    if (data.features == m.inputs()) return;
    const std::string trained = " (the model was trained on " + std::to_string(m.inputs()) + ")";
    const std::string hint =
        idx ? "use images of the size the model was trained on"
        : labels == Labels::required
            ? "use the training data's feature columns, in the same order, plus the label column (" +
                  field_ref("label") + " COL; default the last)"
            : "use the training data's feature columns, in the same order, optionally followed by the label column";
    throw Error(describe(data.source, std::to_string(m.inputs()) + (idx ? " features per image" : " feature columns") + trained,
                         std::to_string(data.features), hint));
}

}  // namespace

SavedModel load_model(const std::string& dir_or_file, const std::string& what) {
    return SavedModel{load_newest_checkpoint(dir_or_file, what)};
}

// Data read for `m` made fit for it: its features checked, its labels mapped onto the
// model's classes (or placeholders), the model's standardization applied.
static void fit_to_model(const SavedModel& m, Dataset& data, Labels labels) {
    check_features(m, data, labels);
    const std::vector<std::string>& classes = m.info().class_names;
    if (labels == Labels::optional) {
        // Placeholder targets: the forward pass computes a loss that prediction ignores.
        if (m.regression()) {
            data.y.assign(static_cast<std::size_t>(data.rows * m.outputs()), 0.0f);
            data.outputs = m.outputs();
        } else {
            data.labels.assign(static_cast<std::size_t>(data.rows), 0);
        }
        data.class_names = classes;
    } else if (m.regression()) {
        if (data.outputs != m.outputs())
            throw Error(describe(data.source, std::to_string(m.outputs()) + " regression targets per row (the model's outputs)",
                                 std::to_string(data.outputs)));
    } else {
        remap_classes(data, classes, "only the classes the model was trained on (" + join(classes) + ")",
                      "remove those rows, or check the label column (" + field_ref("label") + ")");
    }
    // The map fitted on the training rows; uint8 (IDX) data is scaled when gathered instead.
    if (!m.info().standardization.empty()) apply_standardization(data, m.info().standardization);
}

Dataset load_model_data(const SavedModel& m, const ModelData& source, Labels labels) {
    Dataset data = read_model_data(m, source, labels);
    fit_to_model(m, data, labels);
    return data;
}

GemmSettings model_gemm(const SavedModel& model, std::string* note) {
    const GemmSettings trained = model.info().gemm;
    std::string why;
    if (trained.backend == GemmBackend::onednn && !onednn_built())
        why = "this build has no oneDNN (apt-get install libdnnl-dev ocl-icd-opencl-dev, then rebuild)";
    else if (trained.precision == GemmPrecision::bf16 &&
             (!has_bf16_dot_products(detect_cpu_features()) || !onednn_runs_bf16()))
        why = "this CPU has no bf16 dot products oneDNN uses";
    if (note) *note = why.empty() ? "" : "note: the model was trained with " + std::string(gemm_backend_name(trained.backend)) +
                                             " " + gemm_precision_name(trained.precision) + " GEMMs, but " + why +
                                             ": running OpenBLAS fp32 (outputs differ by rounding)";
    return why.empty() ? trained : GemmSettings{};
}

static std::vector<std::int64_t> all_rows(const Dataset& data) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(data.rows));
    for (std::int64_t r = 0; r < data.rows; ++r) rows[static_cast<std::size_t>(r)] = r;
    return rows;
}

EvalResult evaluate(const SavedModel& model, const Dataset& data, int threads, std::vector<std::int32_t>* predicted,
                    RegressionScore* regression) {
    process_blas_core();  // the process's core, selected now if nobody did before
    const Model network(model.spec());
    Evaluator evaluator(network, threads, data.is_classification() ? 0 : data.outputs, model_gemm(model));
    if (!model.regression()) return evaluator.evaluate(model.params(), data, all_rows(data), predicted);
    // Regression: the loss in the targets' units, from the outputs mapped back to them.
    std::vector<float> outputs;
    EvalResult result = evaluator.evaluate(model.params(), data, all_rows(data), nullptr, &outputs);
    const Standardization& targets = model.info().target_standardization;
    if (!targets.empty()) undo_standardization(outputs.data(), data.rows, targets);
    const RegressionScore score = score_regression(outputs.data(), data.y.data(), data.rows, data.outputs);
    result.loss = score.mse;
    if (regression) *regression = score;
    return result;
}

std::vector<float> predict(const SavedModel& model, const Dataset& data, int threads,
                           std::vector<std::int32_t>* predicted) {
    process_blas_core();
    const Model network(model.spec());
    Evaluator evaluator(network, threads, data.is_classification() ? 0 : data.outputs, model_gemm(model));
    std::vector<float> outputs;
    evaluator.evaluate(model.params(), data, all_rows(data), predicted, &outputs);
    const Standardization& targets = model.info().target_standardization;
    if (!targets.empty()) undo_standardization(outputs.data(), data.rows, targets);
    return outputs;
}

std::vector<float> hidden_activations(const ModelSpec& spec, const float* params, const Dataset& data, int layer,
                                      int threads, GemmSettings gemm) {
    const std::int64_t hidden = spec.num_layers() - 1;
    if (layer < 1 || layer > hidden)
        throw Error(describe("hidden layer " + std::to_string(layer),
                             "a hidden layer of " + spec.describe() +
                                 (hidden > 0 ? " (1 to " + std::to_string(hidden) + ")" : " (it has none)"),
                             std::to_string(layer)));
    process_blas_core();
    const Model model(spec);
    Evaluator evaluator(model, threads, data.is_classification() ? 0 : data.outputs, gemm);
    std::vector<float> activations;
    // Model layer layer − 1 computes hidden layer `layer` (spec.sizes[layer] units).
    evaluator.evaluate(params, data, all_rows(data), nullptr, &activations, layer - 1);
    return activations;
}

Dataset load_run_part(const SavedModel& m, RunPart part) {
    const RunConfig config = config_from_text(m.info().config, m.checkpoint.path + " (its saved configuration)");
    RunData run;
    try {
        run = load_run_data(config);
    } catch (const Error& e) {
        throw Error("the run's data, as " + m.checkpoint.path + " names it: " + e.marked());
    }
    // Rows are found by position: the files must still hold what the run trained on.
    const std::string hash = dataset_hash(run.data);
    if (!m.info().data_hash.empty() && hash != m.info().data_hash)
        throw Error(describe(run.data.source, "the data " + m.checkpoint.path + " was trained on (content hash " +
                                                  m.info().data_hash + ")",
                             "other content (hash " + hash + ")", "the file changed since training"));
    const char* name = part == RunPart::train ? "training" : part == RunPart::validation ? "validation" : "test";
    const std::vector<std::int64_t>& rows = part == RunPart::train        ? run.split.train
                                            : part == RunPart::validation ? run.split.validation
                                                                          : run.split.test;
    if (rows.empty())
        throw Error(describe(m.checkpoint.path, std::string("a run with ") + name + " rows", "none",
                             std::string("its ") + field_ref(part == RunPart::test ? "test_fraction" : "validation_fraction") +
                                 " was 0"));
    // The model's standardization is the map train fitted on these very training rows.
    fit_to_model(m, run.data, Labels::required);
    keep_rows(run.data, rows);
    run.data.source = std::string("the ") + name + " rows of " + run.data.source;
    return std::move(run.data);
}

}  // namespace mlptrain
