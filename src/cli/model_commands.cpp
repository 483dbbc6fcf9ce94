// `mlptrain evaluate` and `mlptrain predict`: parse the flags, load the model and the data
// with the library, run it on every thread, then print the metrics (evaluate) or write one
// CSV row of predictions per data row (predict).
#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "blas_core_option.hpp"
#include "command_line.hpp"
#include "commands.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/metrics.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/run/config.hpp"
#include "mlptrain/run/inference.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/storage/atomic_file.hpp"
#include "mlptrain/storage/file_identity.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {

namespace {

struct ModelArgs {
    std::string model, output;
    ModelData data;
    int threads = 0;                // 0: every CPU of the affinity mask
    BlasCoreOption blas_core;
    std::optional<RunPart> part;    // evaluate --split: the run's own rows of that part
    std::int64_t activations = 0;   // predict --activations: this hidden layer (1-based); 0: predictions
};

// evaluate --split PART: the part, or Error. --split replaces --data: the rows come from the
// run's own data files, which its checkpoint names.
RunPart parse_split(const po::variables_map& vm) {
    const std::string part = vm["split"].as<std::string>();
    for (const char* flag : {"data", "label", "labels"}) {
        if (vm.count(flag))
            throw Error(describe("--split " + part, "no --" + std::string(flag) + " beside it",
                                 "--" + std::string(flag) + " " + vm[flag].as<std::string>(),
                                 "--split reads the run's own data files, as its checkpoint names them; omit --split "
                                 "to evaluate other data"));
    }
    if (part == "train") return RunPart::train;
    if (part == "validation") return RunPart::validation;
    if (part == "test") return RunPart::test;
    throw Error(describe("--split", "train, validation or test", quote(part)));
}

// Parses `args` against `desc`; returns false (after printing the help) for --help.
bool parse_model_args(const std::vector<std::string>& args, const po::options_description& desc,
                      const std::string& command, const std::string& synopsis, ModelArgs& a) {
    const std::string hint = "run 'mlptrain " + command + " --help' for the options";
    const po::variables_map vm = parse_command_line(args, desc, command);
    if (vm.count("help")) {
        std::cout << "usage: mlptrain " << command << " " << synopsis << "\n\n" << desc;
        return false;
    }
    auto text = [&](const char* name) { return vm.count(name) ? vm[name].as<std::string>() : std::string(); };
    for (const char* required : {"model", "data", "output"}) {
        const bool data = std::string(required) == "data", split = desc.find_nothrow("split", false);
        if (desc.find_nothrow(required, false) && !vm.count(required) && !(data && vm.count("split")))
            throw Error(describe("--" + std::string(required), data && split ? "a file name, or --split PART" : "a file name",
                                 "nothing", hint));
    }
    a.model = text("model");
    a.output = text("output");
    if (vm.count("label") && text("label").empty())
        throw Error(describe("--label", "a column name or 0-based index", "an empty name",
                             "omit --label for the last column"));
    a.data.path = text("data");
    a.data.label = text("label");
    a.data.label_given = vm.count("label") > 0;
    a.data.idx_labels = text("labels");
    if (vm.count("threads")) a.threads = parse_threads(text("threads"), "threads");
    a.blas_core = blas_core_option(vm);
    if (vm.count("split")) a.part = parse_split(vm);
    if (vm.count("activations")) {  // its upper bound is the model's: run_predict checks it
        a.activations = parse_integer(text("activations"), "activations");
        if (a.activations < 1)
            throw Error(describe("--activations", "a hidden layer from 1 (the first hidden layer)", text("activations")));
    }
    return true;
}

void add_data_options(po::options_description& desc) {
    desc.add_options()
        ("model", po::value<std::string>(), "checkpoint file, or a --checkpoint-dir (its latest checkpoint)")
        ("data", po::value<std::string>(), "CSV file with the training data's feature columns, or IDX images")
        ("label", po::value<std::string>(), "CSV label column: header name or 0-based index (default: last)")
        ("labels", po::value<std::string>(), "IDX labels for --data (default: its name with images-idx3 → labels-idx1)")
        ("threads", po::value<std::string>(), "worker threads (default: CPUs in the affinity mask)");
    add_blas_core_option(desc);
}

// A CSV field: quoted when it holds a comma (load_csv reads it back).
std::string csv_field(const std::string& text) {
    return text.find(',') == std::string::npos ? text : "\"" + text + "\"";
}

// Newer checkpoints of a --model directory that did not load, one line each on stderr.
void print_warnings(const SavedModel& m) {
    for (const std::string& warning : m.checkpoint.warnings) std::cerr << "mlptrain: " << warning << "\n";
}

// The model's GEMMs when they are not plain OpenBLAS fp32, and a note when they cannot run here.
void print_gemm(const SavedModel& m) {
    std::string note;
    const GemmSettings gemm = model_gemm(m, &note);
    if (!note.empty()) std::cout << note << "\n";
    else if (gemm != GemmSettings{}) std::cout << "gemm: " << describe_gemm(gemm) << "\n";
}

void print_model(const SavedModel& m, const Dataset& data) {
    std::cout << "model: " << m.checkpoint.path << ": " << m.spec().describe() << " (step " << m.checkpoint.step << ")\n";
    std::cout << "data: " << data.source << ": " << data.rows << " rows, " << data.features << " features\n";
}

// counts[true][predicted] with class names as row and column headers, right-aligned, and
// each class's recall (correct / rows of that class) at the end of its row.
void print_confusion_matrix(const std::vector<std::vector<std::int64_t>>& counts,
                            const std::vector<std::string>& names) {
    std::size_t first = 0;
    for (const std::string& name : names) first = std::max(first, name.size());
    std::vector<std::size_t> width(names.size());
    for (std::size_t j = 0; j < names.size(); ++j) {
        width[j] = names[j].size();
        for (const auto& row : counts) width[j] = std::max(width[j], std::to_string(row[j]).size());
    }
    auto pad = [](const std::string& text, std::size_t w) {
        return std::string(w > text.size() ? w - text.size() : 0, ' ') + text;
    };
    std::cout << "confusion matrix (rows: true class, columns: predicted class):\n";
    std::cout << "  " << std::string(first, ' ');
    for (std::size_t j = 0; j < names.size(); ++j) std::cout << "  " << pad(names[j], width[j]);
    std::cout << "  recall\n";
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::cout << "  " << names[i] << std::string(first - names[i].size(), ' ');
        std::int64_t total = 0;
        for (std::size_t j = 0; j < names.size(); ++j) {
            std::cout << "  " << pad(std::to_string(counts[i][j]), width[j]);
            total += counts[i][j];
        }
        const std::string recall =
            total > 0 ? format_fixed(static_cast<double>(counts[i][i]) / static_cast<double>(total), 4) : "-";
        std::cout << "  " << pad(recall, 6) << "\n";
    }
}

// The predictions as CSV: a header, then per row the prediction (the class, or the
// regression values) and, for classification, each class's probability.
std::string predictions_csv(const SavedModel& m, const Dataset& data, const std::vector<float>& outputs,
                            const std::vector<std::int32_t>& predicted) {
    const std::int64_t out = m.outputs();
    const std::vector<std::string>& classes = m.info().class_names;
    const bool bce = m.spec().loss == Loss::binary_cross_entropy;
    std::string text;
    if (m.regression()) {
        for (std::int64_t j = 0; j < out; ++j)
            text += (j ? "," : "") + (out == 1 ? std::string("prediction") : "prediction_" + std::to_string(j));
    } else {
        text += "prediction";
        for (const std::string& name : classes) text += "," + csv_field("p_" + name);
    }
    text += "\n";
    for (std::int64_t r = 0; r < data.rows; ++r) {
        const float* o = outputs.data() + r * out;
        if (m.regression()) {
            for (std::int64_t j = 0; j < out; ++j) text += (j ? "," : "") + format_general(o[j], 6);
        } else {
            text += csv_field(classes[static_cast<std::size_t>(predicted[static_cast<std::size_t>(r)])]);
            // bce: the single sigmoid output is P(class 1).
            if (bce) text += "," + format_general(1.0 - o[0], 6) + "," + format_general(o[0], 6);
            else for (std::int64_t j = 0; j < out; ++j) text += "," + format_general(o[j], 6);
        }
        text += "\n";
    }
    return text;
}

// Hidden layer `layer`'s activations (rows × units) as CSV: columns h<layer>_0, h<layer>_1, …
// (units numbered from 0, like prediction_<j>), one row per data row.
std::string activations_csv(std::int64_t layer, std::int64_t units, const std::vector<float>& values) {
    std::string text;
    for (std::int64_t j = 0; j < units; ++j) text += (j ? ",h" : "h") + std::to_string(layer) + "_" + std::to_string(j);
    text += "\n";
    for (std::size_t i = 0; i < values.size(); ++i)
        text += format_general(values[i], 6) + ((i + 1) % static_cast<std::size_t>(units) == 0 ? "\n" : ",");
    return text;
}

}  // namespace

int run_evaluate(const std::vector<std::string>& args) {
    po::options_description desc("mlptrain evaluate options");
    add_data_options(desc);
    desc.add_options()
        ("split", po::value<std::string>(),
         "instead of --data: the rows the run itself used as train, validation or test (its data files, "
         "as its checkpoint names them, split again by its seed and fractions)")
        ("help,h", "show this help");
    ModelArgs a;
    if (!parse_model_args(args, desc, "evaluate", "--model FILE (--data FILE | --split PART) [options]", a)) return 0;

    const SavedModel m = load_model(a.model, "--model");
    print_warnings(m);
    const Dataset data = a.part ? load_run_part(m, *a.part) : load_model_data(m, a.data, Labels::required);
    const BlasSelection& blas = process_blas_core(a.blas_core);
    std::vector<std::int32_t> predicted;
    RegressionScore score;
    const EvalResult result = evaluate(m, data, a.threads, &predicted, &score);

    print_model(m, data);
    std::cout << blas_core_lines(blas);
    print_gemm(m);
    if (m.regression()) {  // in the targets' original units
        std::cout << "loss (mse) " << format_fixed(result.loss, 6) << "\n";
        std::cout << "rmse " << format_fixed(score.rmse, 6) << "\n";
        std::cout << "r2 " << format_fixed(score.r2, 4) << " (predicting the mean: rmse " << format_fixed(score.mean_rmse, 6)
                  << ")\n";
        return 0;
    }
    const auto correct = static_cast<std::int64_t>(std::llround(result.accuracy * static_cast<double>(result.rows)));
    std::cout << "loss (" << loss_name(m.spec().loss) << ") " << format_fixed(result.loss, 6) << "\n";
    std::cout << "accuracy " << format_fixed(result.accuracy, 4) << " (" << correct << " of " << result.rows << " rows)\n";
    print_confusion_matrix(confusion_matrix(data.labels, predicted, data.num_classes()), data.class_names);
    return 0;
}

int run_predict(const std::vector<std::string>& args) {
    po::options_description desc("mlptrain predict options");
    add_data_options(desc);
    desc.add_options()
        ("output", po::value<std::string>(), "CSV file to write: the prediction and the class probabilities per row")
        ("activations", po::value<std::string>(),
         "write hidden layer L's activations instead (1: the first hidden layer; columns hL_0, hL_1, ...)")
        ("help,h", "show this help");
    ModelArgs a;
    if (!parse_model_args(args, desc, "predict", "--model FILE --data FILE --output FILE [options]", a)) return 0;

    const SavedModel m = load_model(a.model, "--model");
    print_warnings(m);
    // Never over an input: the data, its labels, the model (or a checkpoint directory's `latest`).
    refuse_output_over_input("--output", a.output,
                             {{"--data", a.data.path},
                              {"--labels", a.data.idx_labels.empty() ? idx_labels_path_for(a.data.path) : a.data.idx_labels},
                              {"--model", m.checkpoint.path},
                              {"--model", a.model + "/latest"}});
    std::unique_ptr<AtomicFile> output;  // created before the work: a bad path fails first
    try {
        output = std::make_unique<AtomicFile>(a.output);
    } catch (const Error& e) {
        throw Error("--output: " + std::string(e.what()));
    }
    const std::int64_t hidden = m.spec().num_layers() - 1;
    if (a.activations > hidden)
        throw Error(describe("--activations", "a hidden layer of " + m.spec().describe() +
                                                  (hidden > 0 ? " (1 to " + std::to_string(hidden) + ")" : " (it has none)"),
                             std::to_string(a.activations)));
    const Dataset data = load_model_data(m, a.data, Labels::optional);
    const BlasSelection& blas = process_blas_core(a.blas_core);
    if (!blas.note.empty()) std::cout << "note: " << blas_core_text(blas.note) << "\n";
    print_gemm(m);
    if (a.activations > 0) {
        const int layer = static_cast<int>(a.activations);
        output->write(activations_csv(layer, m.spec().sizes[static_cast<std::size_t>(layer)],
                                      hidden_activations(m.spec(), m.params(), data, layer, a.threads, model_gemm(m))));
    } else {
        std::vector<std::int32_t> predicted;
        const std::vector<float> outputs = predict(m, data, a.threads, &predicted);
        output->write(predictions_csv(m, data, outputs, predicted));
    }
    output->commit();
    std::cout << "predict: " << data.rows << " rows from " << data.source << " with " << m.checkpoint.path
              << " written to " << a.output << "\n";
    return 0;
}

}  // namespace mlptrain::cli
