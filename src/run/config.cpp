// A run's configuration: validation, conversion from text, the `key = value` form and
// parsing of configuration texts (see config.hpp). Defaults are in settings.cpp.
#include "mlptrain/run/config.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"
#include "mlptrain/run/settings.hpp"

namespace mlptrain {

std::int64_t parse_integer(const std::string& text, const std::string& field) {
    std::int64_t value = 0;
    const char* first = text.data();
    const char* last = first + text.size();
    if (!text.empty() && text[0] == '+') ++first;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range && end == last)
        throw ConfigError(field, "an integer from -9223372036854775808 to 9223372036854775807",
                          quote(text) + ", too large");
    if (text.empty() || ec != std::errc() || end != last) throw ConfigError(field, "an integer", quote(text));
    return value;
}

double parse_real(const std::string& text, const std::string& field) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
        throw ConfigError(field, "a finite number", quote(text));
    return value;
}

int parse_threads(const std::string& text, const std::string& field) {
    const std::int64_t threads = parse_integer(text, field);
    if (threads < 1 || threads > 1024)
        throw ConfigError(field, "an integer from 1 to 1024", text,
                          "omit " + field_ref(field) + " to use every CPU of the affinity mask");
    return static_cast<int>(threads);
}

std::vector<std::int64_t> parse_layer_sizes(const std::string& text, const std::string& field) {
    std::vector<std::int64_t> sizes;
    std::size_t start = 0;
    const std::string hint = "give positive layer widths separated by commas, e.g. 64,32";
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || ec != std::errc() || end != item.data() + item.size())
            throw ConfigError(field, "a positive integer for every layer", quote(item) + " in " + quote(text), hint);
        if (value <= 0 || value > (1 << 20))
            throw ConfigError(field, "layer widths from 1 to 1048576", std::to_string(value) + " in " + quote(text), hint);
        sizes.push_back(value);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return sizes;
}

static void require(bool ok, const std::string& field, const std::string& expected, const std::string& found,
                    const std::string& hint = "") {
    if (!ok) throw ConfigError(field, expected, found, hint);
}

static void validate_data(const RunConfig& c) {
    const bool split_file = !c.data.empty();
    const bool separate = !c.train_data.empty();
    require(split_file || separate, "data",
            "a data file (or " + field_ref("train_data") + " with " + field_ref("test_data") + ")", "none",
            "e.g. " + field_ref("data") + " data/iris.csv");
    require(!(split_file && separate), "data", "either " + field_ref("data") + " or " + field_ref("train_data") + ", not both", "both");
    require(c.test_data.empty() || separate, "test_data", field_ref("train_data") + " beside it", field_ref("test_data") + " alone");
    require(c.validation_fraction >= 0 && c.validation_fraction < 1, "validation_fraction", "a number in [0, 1)",
            format_number(c.validation_fraction));
    require(c.test_fraction >= 0 && c.test_fraction < 1, "test_fraction", "a number in [0, 1)", format_number(c.test_fraction));
    require(c.validation_fraction + c.test_fraction < 1, "validation_fraction", "validation + test fractions below 1",
            format_number(c.validation_fraction + c.test_fraction), "leave some rows for training");
    require(c.max_rows >= 0, "max_rows", "a non-negative integer", std::to_string(c.max_rows));
    require(c.dropout >= 0 && c.dropout < 1, "dropout", "a probability in [0, 1)", format_number(c.dropout));
}

static void validate_optimization(const RunConfig& c) {
    require(c.epochs >= 1, "epochs", "a positive integer", std::to_string(c.epochs));
    require(c.batch_size >= 1 && c.batch_size <= (1 << 24), "batch_size", "a positive integer up to 16777216",
            std::to_string(c.batch_size));
    require(std::isfinite(c.lr) && c.lr > 0, "lr", "a positive number", format_number(c.lr));
    require(c.momentum >= 0 && c.momentum < 1, "momentum", "a number in [0, 1)", format_number(c.momentum));
    require(!c.nesterov || c.momentum > 0, "nesterov", field_ref("momentum") + " above 0", format_number(c.momentum));
    require(c.weight_decay >= 0 && std::isfinite(c.weight_decay), "weight_decay", "a non-negative number",
            format_number(c.weight_decay));
    require(c.l2 >= 0 && std::isfinite(c.l2), "l2", "a non-negative number", format_number(c.l2));
    require(c.beta1 >= 0 && c.beta1 < 1, "beta1", "a number in [0, 1)", format_number(c.beta1));
    require(c.beta2 >= 0 && c.beta2 < 1, "beta2", "a number in [0, 1)", format_number(c.beta2));
    require(c.clip_norm >= 0 && std::isfinite(c.clip_norm), "clip_norm", "a non-negative number", format_number(c.clip_norm));
    require(c.patience >= 0, "patience", "a non-negative integer", std::to_string(c.patience));
    require(c.warmup_steps >= 0, "warmup_steps", "a non-negative integer", std::to_string(c.warmup_steps));
    require(c.lr_gamma > 0 && c.lr_gamma <= 1, "lr_gamma", "a number in (0, 1]", format_number(c.lr_gamma));
    require(c.min_lr >= 0 && c.min_lr <= c.lr, "min_lr", "a number from 0 to " + field_ref("lr"), format_number(c.min_lr));
    require(c.lr_step_epochs >= 0, "lr_step_epochs", "a positive integer", std::to_string(c.lr_step_epochs));
    require(c.schedule != ScheduleKind::step || c.lr_step_epochs > 0, "schedule",
            field_ref("lr_step_epochs") + " N beside it", "none");
    require(c.lr_reference_batch >= 0, "lr_reference_batch", "a non-negative integer", std::to_string(c.lr_reference_batch));
}

static void validate_execution(const RunConfig& c) {
    require(c.shards >= 0, "shards", "a positive integer (or 0 for the default)", std::to_string(c.shards));
    require(c.shards == 0 || c.shards <= c.batch_size, "shards", "at most " + field_ref("batch_size") + " shards",
            std::to_string(c.shards), "a shard holds at least one row of a full batch");
    require(c.threads >= 0 && c.threads <= 1024, "threads", "an integer from 1 to 1024", std::to_string(c.threads));
    require(c.checkpoint_every >= 0, "checkpoint_every", "a non-negative number of steps", std::to_string(c.checkpoint_every));
    require(c.keep_checkpoints >= 0 && c.keep_checkpoints <= 1000000, "keep_checkpoints",
            "an integer from 0 (keep every one) to 1000000",
            std::to_string(c.keep_checkpoints));
    require(c.checkpoint_every == 0 || !c.checkpoint_dir.empty(), "checkpoint_every",
            field_ref("checkpoint_dir") + " DIR beside it", "no directory");
}

void validate(const RunConfig& config) {
    validate_data(config);
    validate_optimization(config);
    validate_execution(config);
}

void apply_setting(RunConfig& config, const std::string& key, const std::string& value) {
    const Setting* setting = find_setting(key);
    if (!setting) throw Error("unknown setting " + quote(key));
    setting->set(config, value, setting->field);
}

std::string config_lines(const RunConfig& config) {
    std::ostringstream out;
    for (const Setting& s : settings()) {
        if (!s.defines_result) continue;
        const std::string value = s.get(config);
        if (!value.empty()) out << s.key << " = " << value << "\n";
    }
    return out.str();
}

static std::string trim(const std::string& text) {
    const std::size_t first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& source) {
    std::vector<ConfigEntry> entries;
    std::set<std::string> seen;
    std::istringstream in(text);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const std::string where = source + ", line " + std::to_string(number);
        const std::string content = trim(line.substr(0, line.find('#')));
        if (content.empty()) continue;
        const std::size_t eq = content.find('=');
        if (eq == std::string::npos)
            throw Error(describe(where, "'key = value'", quote(content), "one setting per line; '#' starts a comment"));
        ConfigEntry entry{trim(content.substr(0, eq)), trim(content.substr(eq + 1)), number};
        if (!find_setting(entry.key))
            throw Error(describe(where, "a setting's key", quote(entry.key),
                                 "keys are the train flags without '--'; see 'mlptrain train --help'"));
        if (!seen.insert(entry.key).second)
            throw Error(describe(where, "each key once", "a second " + quote(entry.key)));
        entries.push_back(entry);
    }
    return entries;
}

RunConfig config_from_text(const std::string& text, const std::string& source) {
    RunConfig config;
    for (const ConfigEntry& entry : parse_config_text(text, source)) {
        try {
            apply_setting(config, entry.key, entry.value);
        } catch (const ConfigError& e) {
            throw Error(source + ", line " + std::to_string(entry.line) + ", key '" + entry.key + "': " + e.detail());
        }
    }
    return config;
}

}  // namespace mlptrain
