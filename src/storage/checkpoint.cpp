// What a checkpoint holds and how a snapshot maps onto its tensors (see checkpoint.hpp).
#include "mlptrain/storage/checkpoint.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/matrix.hpp"
#include "mlptrain/storage/atomic_file.hpp"

namespace mlptrain {

namespace {

using json = nlohmann::json;

constexpr const char* format_name = "mlptrain-checkpoint";

json spec_to_json(const ModelSpec& spec) {
    return {{"sizes", spec.sizes},
            {"hidden_activation", activation_name(spec.hidden_activation)},
            {"loss", loss_name(spec.loss)},
            {"dropout", spec.dropout}};
}

ModelSpec spec_from_json(const json& j) {
    ModelSpec spec;
    spec.sizes = j.at("sizes").get<std::vector<std::int64_t>>();
    spec.hidden_activation = parse_activation(j.at("hidden_activation").get<std::string>(), "model.hidden_activation");
    spec.loss = parse_loss(j.at("loss").get<std::string>(), "model.loss");
    spec.dropout = j.at("dropout").get<float>();
    if (spec.sizes.size() < 2 || std::any_of(spec.sizes.begin(), spec.sizes.end(), [](std::int64_t s) { return s <= 0; }))
        throw Error("model.sizes: expected at least two positive sizes");
    return spec;
}

// Tensor name of a slot in a buffer of `role`: the parameters keep the slot's name.
std::string tensor_name(const std::string& role, const std::string& slot) {
    return role == "params" ? slot : role + "." + slot;
}

void add_buffer(std::vector<TensorView>& views, const std::string& role, const Model& model, const float* base) {
    for (const Slot& slot : model.layout().slots())
        views.push_back({tensor_name(role, slot.name), {slot.rows, slot.cols}, base + slot.offset});
}

// "<name>.mean" and "<name>.inv_std", when there is a standardization.
void add_standardization(std::vector<TensorView>& views, const std::string& name, const Standardization& s) {
    if (s.empty()) return;
    const auto columns = static_cast<std::int64_t>(s.mean.size());
    views.push_back({name + ".mean", {columns}, s.mean.data()});
    views.push_back({name + ".inv_std", {columns}, s.inv_std.data()});
}

// The standardization stored under `name` (empty if the file has none); `columns` values each.
Standardization read_standardization(const LoadedCheckpoint& c, const std::string& name, std::int64_t columns) {
    Standardization s;
    const auto mean = c.file.tensors.find(name + ".mean");
    const auto inv_std = c.file.tensors.find(name + ".inv_std");
    if (mean == c.file.tensors.end() || inv_std == c.file.tensors.end()) return s;
    if (mean->second.data.size() != static_cast<std::size_t>(columns) || inv_std->second.data.size() != mean->second.data.size())
        throw Error(describe(c.path + ", " + name, std::to_string(columns) + " values", "another count"));
    s.mean = mean->second.data;
    s.inv_std = inv_std->second.data;
    return s;
}

// The tensors of `role` copied into a buffer with `model`'s layout (zero padding).
AlignedBuffer read_buffer(const std::string& role, const Model& model, const LoadedCheckpoint& c) {
    AlignedBuffer buffer(model.layout().total());
    for (const Slot& slot : model.layout().slots()) {
        const std::string name = tensor_name(role, slot.name);
        const auto it = c.file.tensors.find(name);
        if (it == c.file.tensors.end())
            throw Error(describe(c.path, "a tensor '" + name + "'", "none", "the checkpoint does not fit this model or optimizer"));
        const Tensor& t = it->second;
        if (t.shape != std::vector<std::int64_t>{slot.rows, slot.cols})
            throw Error(describe(c.path + ", tensor " + name,
                                 "shape [" + std::to_string(slot.rows) + ", " + std::to_string(slot.cols) + "]",
                                 "another shape", "the checkpoint was saved for another model"));
        std::copy(t.data.begin(), t.data.end(), buffer.data() + slot.offset);
    }
    return buffer;
}

// The buffer roles present in the file: "params" and every prefix of "<role>.<first slot>".
std::vector<std::string> roles_in(const LoadedCheckpoint& c, const Model& model) {
    const std::string first = model.layout().slot(0).name;
    std::vector<std::string> roles{"params"};
    for (const auto& [name, tensor] : c.file.tensors)
        if (name.size() > first.size() + 1 && name.compare(name.size() - first.size(), first.size(), first) == 0 &&
            name[name.size() - first.size() - 1] == '.')
            roles.push_back(name.substr(0, name.size() - first.size() - 1));
    return roles;
}

std::string step_file_name(std::int64_t step) {
    char name[64];
    std::snprintf(name, sizeof name, "step-%012lld.safetensors", static_cast<long long>(step));
    return name;
}

// The step-*.safetensors files of `dir`, oldest first.
std::vector<std::string> checkpoint_files(const std::string& dir) {
    std::vector<std::string> files;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.size() == 29 && name.rfind("step-", 0) == 0 && name.find(".safetensors") == 17)
                files.push_back(name);
        }
        closedir(d);
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

void save_checkpoint(const std::string& path, const Snapshot& snapshot, const CheckpointInfo& info) {
    const Model model(info.spec);
    const std::int64_t n = model.layout().total();
    std::vector<TensorView> views;
    for (const SnapshotBuffer& buffer : snapshot.buffers) {
        if (buffer.role == "params" && !all_finite(buffer.data, n))
            throw NumericError("step " + std::to_string(snapshot.step) +
                               ": the weights are not finite; no checkpoint was written");
        if (buffer.role.rfind("optimizer.", 0) == 0 && !all_finite(buffer.data, n))
            throw NumericError("step " + std::to_string(snapshot.step) + ": " + buffer.role +
                               " is not finite; no checkpoint was written");
        add_buffer(views, buffer.role, model, buffer.data);
    }
    add_standardization(views, "standardization", info.standardization);
    add_standardization(views, "target_standardization", info.target_standardization);
    const TrainState& st = snapshot.state;
    const json state = {{"step", snapshot.step},
                        {"epoch", st.epoch},
                        {"position", st.position},
                        {"epoch_loss_sum", st.epoch_loss_sum},
                        {"best_loss", std::isfinite(st.best_loss) ? json(st.best_loss) : json(nullptr)},
                        {"epochs_since_best", st.epochs_since_best},
                        {"finished", st.finished}};
    const std::uint64_t seed = snapshot.seed;
    const json rng = {{"generator", "philox4x32-10"},
                      {"seed", seed},
                      {"key", {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}},
                      {"streams", "counter = (index, stream, purpose): init=1 (layer, weight), shuffle=2 (epoch), "
                                  "split=3 (class), dropout=4 (block, row, step, layer)"}};
    std::map<std::string, std::string> metadata = {
        {"format", format_name},
        {"model", spec_to_json(info.spec).dump()},
        {"class_names", json(info.class_names).dump()},
        {"config", info.config},
        {"input", info.input_u8 ? "uint8 pixels scaled by 1/255" : "float features"},
        {"state", state.dump()},
        {"rng", rng.dump()},
        {"shards", std::to_string(snapshot.shards)},
        {"weights_fingerprint", snapshot.weights_fingerprint}};
    if (!info.data_hash.empty()) metadata["data_hash"] = info.data_hash;
    metadata["gemm"] = json({{"backend", gemm_backend_name(info.gemm.backend)},
                             {"precision", gemm_precision_name(info.gemm.precision)},
                             {"library", info.gemm_library}})
                           .dump();
    write_safetensors(path, views, std::move(metadata));
}

// The "gemm" metadata: {"backend": "onednn", "precision": "bf16", "library": "oneDNN …"}.
static void read_gemm(const json& gemm, CheckpointInfo& info) {
    const std::string backend = gemm.at("backend").get<std::string>();
    const std::string precision = gemm.at("precision").get<std::string>();
    if (backend != "openblas" && backend != "onednn") throw Error("gemm.backend: expected openblas or onednn, found " + backend);
    if (precision != "fp32" && precision != "bf16") throw Error("gemm.precision: expected fp32 or bf16, found " + precision);
    info.gemm.backend = backend == "onednn" ? GemmBackend::onednn : GemmBackend::openblas;
    info.gemm.precision = precision == "bf16" ? GemmPrecision::bf16 : GemmPrecision::fp32;
    if (info.gemm.precision == GemmPrecision::bf16 && info.gemm.backend != GemmBackend::onednn)
        throw Error("gemm: expected bf16 only with the onednn backend, found bf16 with " + backend);
    info.gemm_library = gemm.at("library").get<std::string>();
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
    LoadedCheckpoint c;
    c.path = path;
    c.file = read_safetensors(path);
    const auto& meta = c.file.metadata;
    auto field = [&](const char* key) -> const std::string& {
        const auto it = meta.find(key);
        if (it == meta.end())
            throw Error(describe(path, "metadata '" + std::string(key) + "'", "none", "is this an mlptrain checkpoint?"));
        return it->second;
    };
    if (field("format") != format_name)
        throw Error(describe(path, std::string("metadata format '") + format_name + "'", "'" + field("format") + "'"));
    try {
        c.info.spec = spec_from_json(json::parse(field("model")));
        c.info.class_names = json::parse(field("class_names")).get<std::vector<std::string>>();
        c.info.config = field("config");
        if (meta.count("data_hash")) c.info.data_hash = meta.at("data_hash");
        if (meta.count("gemm")) read_gemm(json::parse(meta.at("gemm")), c.info);
        c.info.input_u8 = field("input") == "uint8 pixels scaled by 1/255";
        const json state = json::parse(field("state"));
        c.step = state.at("step").get<std::int64_t>();
        c.state.epoch = state.at("epoch").get<std::int64_t>();
        c.state.position = state.at("position").get<std::int64_t>();
        c.state.epoch_loss_sum = state.at("epoch_loss_sum").get<double>();
        c.state.best_loss = state.at("best_loss").is_null() ? INFINITY : state.at("best_loss").get<double>();
        c.state.epochs_since_best = state.at("epochs_since_best").get<std::int64_t>();
        c.state.finished = state.at("finished").get<bool>();
        if (c.step < 0 || c.state.epoch < 1 || c.state.position < 0)
            throw Error("state: expected a non-negative step and position and an epoch from 1");
        if (!(c.info.spec.dropout >= 0.0f && c.info.spec.dropout < 1.0f))
            throw Error("model.dropout: expected a probability in [0, 1)");
        const std::int64_t outputs = c.info.spec.sizes.back();
        const auto classes = static_cast<std::int64_t>(c.info.class_names.size());
        const bool fits = c.info.spec.loss == Loss::mse ? classes == 0 || classes == outputs
                          : c.info.spec.loss == Loss::binary_cross_entropy ? classes == 2 && outputs == 1
                                                                           : classes == outputs;
        if (!fits)
            throw Error("class_names: expected names for the model's " + std::to_string(outputs) +
                        " output(s), found " + std::to_string(classes));
    } catch (const json::exception& e) {
        throw Error(describe(path + ", metadata", "the fields mlptrain writes", std::string("invalid JSON content (") + e.what() + ")"));
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    c.info.standardization = read_standardization(c, "standardization", c.info.spec.sizes.front());
    c.info.target_standardization = read_standardization(c, "target_standardization", c.info.spec.sizes.back());
    // Every buffer must fit the spec the file claims.
    const Model model(c.info.spec);
    for (const std::string& role : roles_in(c, model)) c.buffers.emplace(role, read_buffer(role, model, c));
    return c;
}

Snapshot LoadedCheckpoint::snapshot() const {
    Snapshot s;
    s.step = step;
    s.state = state;
    for (const auto& [role, buffer] : buffers) s.buffers.push_back({role, buffer.data()});
    return s;
}

void require_roles(const LoadedCheckpoint& c, const std::vector<std::string>& roles) {
    const Model model(c.info.spec);
    for (const std::string& role : roles)
        if (!c.buffers.count(role))
            throw Error(describe(c.path, "a tensor '" + tensor_name(role, model.layout().slot(0).name) + "'", "none",
                                 "the checkpoint does not fit this model or optimizer"));
}

CheckpointDir::CheckpointDir(std::string dir, int keep, const std::string& what) : dir_(std::move(dir)), keep_(keep) {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);  // parents too, like mkdir -p
    if (error) throw Error(describe(what + " " + dir_, "a directory that can be created", error.message()));
    struct stat st;
    if (stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(describe(what + " " + dir_, "a directory", "something else"));
    // A writer killed mid-write leaves its temporary file; the complete files never change.
    // ("latest.tmp" is the name an older mlptrain gave `latest`'s temporary file.)
    if (DIR* d = opendir(dir_.c_str())) {
        while (dirent* e = readdir(d))
            if (is_atomic_temp_name(e->d_name) || std::strcmp(e->d_name, "latest.tmp") == 0)
                std::remove((dir_ + "/" + e->d_name).c_str());
        closedir(d);
    }
}

std::string CheckpointDir::save(const Snapshot& snapshot, const CheckpointInfo& info) {
    const std::string name = step_file_name(snapshot.step);
    const std::string path = dir_ + "/" + name;
    save_checkpoint(path, snapshot, info);
    // `latest` (one line, the file name) is replaced only now that the checkpoint is durable.
    write_file_atomically(dir_ + "/latest", name + "\n");
    std::vector<std::string> files = checkpoint_files(dir_);
    while (keep_ > 0 && static_cast<int>(files.size()) > keep_) {
        std::remove((dir_ + "/" + files.front()).c_str());
        files.erase(files.begin());
    }
    return path;
}

std::vector<std::int64_t> checkpoint_steps(const std::string& dir) {
    std::vector<std::int64_t> steps;
    for (const std::string& name : checkpoint_files(dir)) steps.push_back(std::stoll(name.substr(5, 12)));
    return steps;
}

// Renames a checkpoint that does not load to "<name>.corrupt" (never deleted: a person may
// want to look at it), so that it no longer counts as the directory's newest. Returns the
// warning to show. A rename that fails because another rank moved it first is fine.
static std::string set_aside(const std::string& path, const std::string& failure) {
    const std::string aside = path + ".corrupt";
    const bool moved = std::rename(path.c_str(), aside.c_str()) == 0;
    return "warning: " + path + " does not load (" + failure + "); " +
           (moved ? "renamed to " + aside : std::string("left where it is")) + " and skipped";
}

LoadedCheckpoint load_newest_checkpoint(const std::string& dir_or_file, const std::string& what, bool set_aside_corrupt) {
    struct stat st;
    if (stat(dir_or_file.c_str(), &st) != 0)
        throw Error(describe(what + " " + dir_or_file, "a checkpoint file or directory", std::strerror(errno)));
    if (!S_ISDIR(st.st_mode)) return load_checkpoint(dir_or_file);
    // Newest first. A writer killed between its rename and the update of `latest` leaves a
    // complete checkpoint newer than `latest` names: it is as good, so the step number
    // decides. One that does not load (damaged afterwards) yields to the one before it.
    const std::vector<std::string> files = checkpoint_files(dir_or_file);
    if (files.empty())
        throw Error(describe(what + " " + dir_or_file, "a directory with step-*.safetensors checkpoints", "none"));
    std::string first_failure;
    std::vector<std::string> warnings;
    for (auto name = files.rbegin(); name != files.rend(); ++name) {
        const std::string path = dir_or_file + "/" + *name;
        try {
            LoadedCheckpoint c = load_checkpoint(path);
            c.warnings = std::move(warnings);
            return c;
        } catch (const Error& e) {
            if (first_failure.empty()) first_failure = e.what();
            warnings.push_back(set_aside_corrupt ? set_aside(path, e.what())
                                                 : "warning: " + path + " does not load (" + e.what() + "); skipped");
        }
    }
    throw Error(what + " " + dir_or_file + ": no checkpoint there loads; the newest fails with: " + first_failure);
}

}  // namespace mlptrain
