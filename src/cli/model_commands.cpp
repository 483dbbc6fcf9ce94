// `mlptrain evaluate` and `mlptrain predict`: load a trained model from a checkpoint, apply
// its standardization and class names to new data, then print the metrics (evaluate) or
// write one CSV row of predictions per data row (predict).
#include <boost/program_options.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "commands.hpp"
#include "mlptrain/storage/checkpoint.hpp"
#include "mlptrain/data/csv.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/core/metrics.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {

namespace {

struct ModelArgs {
    std::string model, data, label, labels, output;
    bool label_given = false;
    int threads = 0;  // 0: default_threads()
};

// Parses `args` against `desc`; returns false (after printing the help) for --help.
bool parse_model_args(const std::vector<std::string>& args, const po::options_description& desc,
                      const std::string& command, const std::string& synopsis, ModelArgs& a) {
    const std::string hint = "run 'mlptrain " + command + " --help' for the options";
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::unknown_option& e) {
        throw Error("unknown option '" + e.get_option_name() + "' (hint: " + hint + ")");
    } catch (const po::error& e) {
        throw Error(std::string(e.what()) + " (hint: " + hint + ")");
    }
    if (vm.count("help")) {
        std::cout << "usage: mlptrain " << command << " " << synopsis << "\n\n" << desc;
        return false;
    }
    auto text = [&](const char* name) { return vm.count(name) ? vm[name].as<std::string>() : std::string(); };
    for (const char* required : {"model", "data", "output"}) {
        if (desc.find_nothrow(required, false) && !vm.count(required))
            throw Error(describe("--" + std::string(required), "a file name", "nothing", hint));
    }
    a.model = text("model");
    a.data = text("data");
    a.output = text("output");
    a.label = text("label");
    a.label_given = vm.count("label") > 0;
    a.labels = text("labels");
    if (vm.count("threads")) {
        const std::int64_t threads = parse_int(text("threads"), "--threads");
        if (threads < 1 || threads > 1024)
            throw Error(describe("--threads", "an integer from 1 to 1024", text("threads"),
                                 "omit --threads to use every CPU of the affinity mask"));
        a.threads = static_cast<int>(threads);
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
}

// The columns of a CSV file's header (a quoted field may hold commas), or -1 if the file
// cannot be read: load_csv then reports that properly.
std::int64_t csv_header_columns(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string header;
    if (!in || !std::getline(in, header)) return -1;
    std::int64_t columns = 1;
    bool quoted = false;
    for (char c : header) {
        if (c == '"') quoted = !quoted;
        else if (c == ',' && !quoted) ++columns;
    }
    return columns;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// The checkpoint and a trainer holding its parameters; the trainer is only used to run
// the forward pass (Trainer::evaluate) in parallel.
struct TrainedModel {
    std::string source;  // the --model argument
    LoadedCheckpoint checkpoint;
    std::unique_ptr<Model> model;
    std::unique_ptr<Trainer> trainer;

    const CheckpointInfo& info() const { return checkpoint.info; }
    // Regression models have numeric outputs and no class names (train loads the data that
    // way exactly when the loss is mse on a CSV file).
    bool regression() const { return checkpoint.info.class_names.empty(); }
    std::int64_t inputs() const { return checkpoint.info.spec.sizes.front(); }
    std::int64_t outputs() const { return checkpoint.info.spec.sizes.back(); }
};

TrainedModel load_model(const std::string& dir_or_file) {
    TrainedModel m;
    m.source = dir_or_file;
    m.checkpoint = load_newest_checkpoint(dir_or_file, "--model");
    return m;
}

// Builds the model and a trainer with the checkpoint's parameters. Batch size and seed do
// not change the outputs of a forward pass; 256 rows keep every core busy.
void build_trainer(TrainedModel& m, int threads) {
    TrainConfig config;
    config.batch_size = 256;
    config.threads = threads;
    m.model = std::make_unique<Model>(m.info().spec);
    m.trainer = std::make_unique<Trainer>(*m.model, config, m.regression() ? m.outputs() : 0);
    restore_parameters(m.trainer->params(), *m.model, m.checkpoint);
}

enum class Labels { required, optional };

// Loads --data for `m`: the features must be the model's inputs. With Labels::required the
// class labels are mapped onto the model's classes by name; with Labels::optional a CSV
// whose column count equals the model's inputs is read without a label column, and labels
// are not used (replaced by placeholders that Trainer::evaluate can gather).
Dataset load_model_data(const ModelArgs& a, const TrainedModel& m, Labels labels) {
    Dataset data;
    const bool idx = is_idx_file(a.data);
    if (idx && labels == Labels::optional && a.labels.empty()) {
        data = load_idx_images(a.data);  // predict needs no labels
    } else if (idx) {
        const std::string labels_path = a.labels.empty() ? idx_labels_path_for(a.data) : a.labels;
        if (labels_path.empty())
            throw Error(describe(a.data, "an IDX labels file beside these IDX images", "none",
                                 "name it with --labels FILE"));
        data = load_idx(a.data, labels_path);
    } else {
        CsvOptions csv;
        csv.label = a.label;
        csv.regression = m.regression();
        csv.no_label = labels == Labels::optional && !a.label_given && csv_header_columns(a.data) == m.inputs();
        data = load_csv(a.data, csv);
    }

    if (idx != m.info().input_u8)
        throw Error(describe(a.data, m.info().input_u8 ? "IDX images like the model's training data (uint8 pixels, scaled by 1/255)"
                                                       : "a CSV file like the model's training data",
                             idx ? "IDX images" : "a CSV file",
                             "give data in the format the model was trained on"));
    if (data.features != m.inputs()) {
        const std::string trained = " (the model was trained on " + std::to_string(m.inputs()) + ")";
        const std::string hint = idx
            ? "use images of the size the model was trained on"
            : labels == Labels::required
                ? "use the training data's feature columns, in the same order, plus the label column (--label COL; default the last)"
                : "use the training data's feature columns, in the same order, optionally followed by the label column";
        throw Error(describe(a.data, std::to_string(m.inputs()) + (idx ? " features per image" : " feature columns") + trained,
                             std::to_string(data.features), hint));
    }

    const std::vector<std::string>& classes = m.info().class_names;
    if (labels == Labels::optional) {
        // Placeholder targets: Trainer::evaluate computes a loss that predict ignores.
        if (m.regression()) {
            data.y.assign(static_cast<std::size_t>(data.rows * m.outputs()), 0.0f);
            data.outputs = m.outputs();
        } else {
            data.labels.assign(static_cast<std::size_t>(data.rows), 0);
        }
        data.class_names = classes;
    } else if (m.regression()) {
        if (data.outputs != m.outputs())
            throw Error(describe(a.data, std::to_string(m.outputs()) + " regression targets per row (the model's outputs)",
                                 std::to_string(data.outputs)));
    } else {
        std::map<std::string, std::int32_t> index;
        for (std::size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<std::int32_t>(i);
        std::vector<std::int32_t> remap;
        for (const std::string& name : data.class_names) {
            const auto it = index.find(name);
            if (it == index.end())
                throw Error(describe(data.source, "only the classes the model was trained on (" + join(classes) + ")",
                                     "class '" + name + "'", "remove those rows, or check the label column (--label)"));
            remap.push_back(it->second);
        }
        for (std::int32_t& label : data.labels) label = remap[static_cast<std::size_t>(label)];
        data.class_names = classes;
    }

    // The map fitted on the training rows; uint8 (IDX) data is scaled when gathered instead.
    if (!m.info().standardization.empty()) apply_standardization(data, m.info().standardization);
    return data;
}

std::vector<std::int64_t> all_rows(const Dataset& data) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(data.rows));
    for (std::int64_t r = 0; r < data.rows; ++r) rows[static_cast<std::size_t>(r)] = r;
    return rows;
}

std::string format(const char* spec, double v) {
    char text[64];
    std::snprintf(text, sizeof text, spec, v);
    return text;
}

// A CSV field: quoted when it holds a comma (load_csv reads it back).
std::string csv_field(const std::string& text) {
    return text.find(',') == std::string::npos ? text : "\"" + text + "\"";
}

void print_model(const TrainedModel& m, const Dataset& data) {
    std::cout << "model: " << m.checkpoint.path << ": " << m.info().spec.describe() << " (step "
              << m.checkpoint.step << ")\n";
    std::cout << "data: " << data.source << ": " << data.rows << " rows, " << data.features
              << " features\n";
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
        const std::string recall = total > 0
            ? format("%.4f", static_cast<double>(counts[i][i]) / static_cast<double>(total)) : "-";
        std::cout << "  " << pad(recall, 6) << "\n";
    }
}

// A file written atomically: the text goes to PATH.tmp-XXXXXX beside PATH, is flushed to
// disk, then renamed over PATH, so readers see the old file or the whole new one. The
// temporary file is created first (a missing directory fails before any work) and is
// removed if the command fails before commit().
class AtomicFile {
public:
    explicit AtomicFile(const std::string& path) : path_(path), temp_(path + ".tmp-XXXXXX") {
        fd_ = ::mkstemp(temp_.data());
        if (fd_ < 0) fail("cannot create a file beside it", errno);
        // mkstemp creates 0600; an output file gets the usual 0666 less the umask.
        const mode_t mask = ::umask(0);
        ::umask(mask);
        ::fchmod(fd_, 0666 & ~mask);
    }
    ~AtomicFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(temp_.c_str());
    }
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void commit(const std::string& text) {
        for (std::size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("cannot write", errno);
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(fd_) != 0) fail("cannot write", errno);
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail("cannot write", errno);
        if (::rename(temp_.c_str(), path_.c_str()) != 0) fail("cannot rename the finished file to it", errno);
        committed_ = true;
        // Make the rename durable too (best effort: some file systems refuse directory fsync).
        std::string dir = std::filesystem::path(path_).parent_path().string();
        const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0) {
            ::fsync(dir_fd);
            ::close(dir_fd);
        }
    }

private:
    [[noreturn]] void fail(const std::string& what, int err) const {
        throw Error("--output " + path_ + ": " + what + ": " + std::strerror(err) +
                    " (hint: the directory must exist and be writable)");
    }

    std::string path_;
    std::string temp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace

int run_evaluate(const std::vector<std::string>& args) {
    po::options_description desc("mlptrain evaluate options");
    add_data_options(desc);
    desc.add_options()("help,h", "show this help");
    ModelArgs a;
    if (!parse_model_args(args, desc, "evaluate", "--model FILE --data FILE [options]", a)) return 0;

    TrainedModel m = load_model(a.model);
    const Dataset data = load_model_data(a, m, Labels::required);
    build_trainer(m, a.threads);
    std::vector<std::int32_t> predicted;
    const EvalResult result = m.trainer->evaluate(data, all_rows(data), &predicted);

    print_model(m, data);
    if (m.regression()) {
        std::cout << "loss (mse) " << format("%.6f", result.loss) << "\n";
        std::cout << "rmse " << format("%.6f", std::sqrt(result.loss)) << "\n";
        return 0;
    }
    const auto correct = static_cast<std::int64_t>(std::llround(result.accuracy * static_cast<double>(result.rows)));
    std::cout << "loss (" << loss_name(m.info().spec.loss) << ") " << format("%.6f", result.loss) << "\n";
    std::cout << "accuracy " << format("%.4f", result.accuracy) << " (" << correct << " of "
              << result.rows << " rows)\n";
    print_confusion_matrix(confusion_matrix(data.labels, predicted, data.num_classes()), data.class_names);
    return 0;
}

int run_predict(const std::vector<std::string>& args) {
    po::options_description desc("mlptrain predict options");
    add_data_options(desc);
    desc.add_options()
        ("output", po::value<std::string>(), "CSV file to write: the prediction and the class probabilities per row")
        ("help,h", "show this help");
    ModelArgs a;
    if (!parse_model_args(args, desc, "predict", "--model FILE --data FILE --output FILE [options]", a)) return 0;

    AtomicFile output(a.output);
    TrainedModel m = load_model(a.model);
    const Dataset data = load_model_data(a, m, Labels::optional);
    build_trainer(m, a.threads);
    std::vector<std::int32_t> predicted;
    std::vector<float> outputs;
    m.trainer->evaluate(data, all_rows(data), &predicted, &outputs);

    const std::int64_t out = m.outputs();
    const std::vector<std::string>& classes = m.info().class_names;
    const bool bce = m.info().spec.loss == Loss::binary_cross_entropy;
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
            for (std::int64_t j = 0; j < out; ++j) text += (j ? "," : "") + format("%.6g", o[j]);
        } else {
            text += csv_field(classes[static_cast<std::size_t>(predicted[static_cast<std::size_t>(r)])]);
            // bce: the single sigmoid output is P(class 1).
            if (bce) text += "," + format("%.6g", 1.0 - o[0]) + "," + format("%.6g", o[0]);
            else for (std::int64_t j = 0; j < out; ++j) text += "," + format("%.6g", o[j]);
        }
        text += "\n";
    }
    output.commit(text);
    std::cout << "predict: " << data.rows << " rows from " << data.source << " with " << m.checkpoint.path
              << " written to " << a.output << "\n";
    return 0;
}

}  // namespace mlptrain::cli
