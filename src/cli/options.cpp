// The `train` command line (see options.hpp): Boost.Program_options over the settings
// table plus train's own options, the two-phase build of the RunConfig, and library errors
// rendered in the command line's terms.
#include "options.hpp"

#include "command_line.hpp"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "mlptrain/data/idx.hpp"
#include "mlptrain/run/prepare.hpp"
#include "mlptrain/run/settings.hpp"
#include "mlptrain/storage/file_identity.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {
namespace {

// Every setting as a flag (grouped as the table groups them), then train's own options.
// Values are read as text and converted by the table, so that a bad value gets our message.
po::options_description train_options() {
    std::vector<po::options_description> groups;
    std::vector<std::string> names;
    for (const Setting& s : settings()) {
        if (names.empty() || names.back() != s.group) {
            names.push_back(s.group);
            groups.emplace_back(s.group);
        }
        const std::string help = help_text(s);
        if (s.is_switch) groups.back().add_options()(s.key, po::bool_switch(), help.c_str());
        else groups.back().add_options()(s.key, po::value<std::string>(), help.c_str());
    }
    po::options_description out("Output");
    out.add_options()
        ("quiet", po::bool_switch(), "print only the final results")
        ("verbose", po::bool_switch(), "also print the configuration and per-class details")
        ("metrics-out", po::value<std::string>(), "write one JSON object per epoch to this file")
        ("config", po::value<std::string>(), "read settings from this file (key = value lines, same names as the flags; flags override)")
        ("help,h", "show this help");
    po::options_description all("mlptrain train options");
    for (const po::options_description& group : groups) all.add(group);
    all.add(out);
    return all;
}

std::string flag_of(const std::string& field) {
    if (const Setting* s = find_setting_by_field(field)) return std::string("--") + s->key;
    std::string flag = "--" + field;
    for (char& c : flag)
        if (c == '_') c = '-';
    return flag;
}

std::vector<ConfigEntry> read_config_file(const std::string& path) {
    struct stat st {};
    const bool directory = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    std::ifstream file(path, std::ios::binary);
    if (!file || directory)
        throw Error(describe("--config " + path, "a readable options file",
                             directory ? "a directory" : "a file that cannot be opened", "check the path"));
    std::ostringstream text;
    text << file.rdbuf();
    return parse_config_text(text.str(), path);
}

// The value of `key` among `entries`, or "".
std::string value_of(const std::vector<ConfigEntry>& entries, const std::string& key) {
    for (const ConfigEntry& e : entries)
        if (e.key == key) return e.value;
    return "";
}

}  // namespace

TrainArgs parse_train_args(const std::vector<std::string>& args) {
    const po::variables_map vm = parse_command_line(args, train_options(), "train");
    TrainArgs a;
    for (const Setting& s : settings()) {
        if (!vm.count(s.key) || vm[s.key].defaulted()) continue;
        a.flags.push_back({s.key, s.is_switch ? "true" : vm[s.key].as<std::string>(), 0});
    }
    if (vm.count("config")) a.config_file = vm["config"].as<std::string>();
    if (vm.count("metrics-out")) a.metrics_out = vm["metrics-out"].as<std::string>();
    a.quiet = vm["quiet"].as<bool>();
    a.verbose = vm["verbose"].as<bool>();
    a.help = vm.count("help") > 0;
    return a;
}

std::string train_help() {
    std::ostringstream text;
    text << "usage: mlptrain train --data FILE [options]\n\n" << train_options();
    return text.str();
}

void ConfigSources::from_file(const std::string& field, const std::string& file, int line) {
    where_[field] = file + ", line " + std::to_string(line) + ", key '" + find_setting_by_field(field)->key + "'";
}

std::string ConfigSources::where(const std::string& field) const {
    const auto it = where_.find(field);
    return it == where_.end() || it->second.empty() ? flag_of(field) : it->second;
}

RunConfig build_run_config(const TrainArgs& args, std::optional<LoadedCheckpoint>& resume, ConfigSources& sources) {
    const std::vector<ConfigEntry> file = args.config_file.empty() ? std::vector<ConfigEntry>{}
                                                                   : read_config_file(args.config_file);
    RunConfig config;
    // Phase 1: does the run resume? A flag or the file says so; the saved configuration then
    // lies under both.
    std::string resume_path = value_of(args.flags, "resume");
    if (resume_path.empty()) resume_path = value_of(file, "resume");
    if (!resume_path.empty()) {
        resume = load_resume_checkpoint(resume_path);
        try {
            config = config_from_text(resume->info.config, resume->path + ", saved configuration");
        } catch (const Error& e) {
            throw Error(std::string("--resume: the checkpoint's saved configuration: ") + e.what() +
                        " (hint: was it written by another version of mlptrain?)");
        }
    }
    // Phase 2: the file, then the flags; each value's source is noted first, for messages.
    for (const ConfigEntry& e : file) {
        sources.from_file(find_setting(e.key)->field, args.config_file, e.line);
        apply_setting(config, e.key, e.value);
    }
    for (const ConfigEntry& e : args.flags) {
        sources.from_flag(find_setting(e.key)->field);
        apply_setting(config, e.key, e.value);
    }
    return config;
}

void refuse_outputs_over_inputs(const TrainArgs& args, const RunConfig& c) {
    if (args.metrics_out.empty()) return;
    const std::string train = c.data.empty() ? c.train_data : c.data;
    refuse_output_over_input("--metrics-out", args.metrics_out,
                             {{"--data", c.data},
                              {"--train-data", c.train_data},
                              {"--test-data", c.test_data},
                              {"--train-labels", c.train_labels.empty() ? idx_labels_path_for(train) : c.train_labels},
                              {"--test-labels", c.test_labels.empty() ? idx_labels_path_for(c.test_data) : c.test_labels},
                              {"--config", args.config_file},
                              {"--resume", c.resume}});
}

std::string cli_message(const Error& error, const ConfigSources* sources) {
    if (const auto* config = dynamic_cast<const ConfigError*>(&error))
        return (sources ? sources->where(config->field()) : flag_of(config->field())) + ": " +
               render_fields(config->detail(), flag_of);
    return render_fields(error.marked(), flag_of);
}

void rethrow_for_cli(const Error& error, const ConfigSources* sources) {
    const std::string message = cli_message(error, sources);
    if (dynamic_cast<const NumericError*>(&error)) throw NumericError(message);
    throw Error(message);
}

}  // namespace mlptrain::cli
