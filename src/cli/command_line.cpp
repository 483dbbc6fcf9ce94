// Command-line parsing and its error messages (see command_line.hpp).
#include "command_line.hpp"

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {
namespace {

// What went wrong, from the error's type alone.
std::string describe_parse_error(const po::error& e) {
    const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
    const std::string option = named ? quote(named->get_option_name(), 60) : std::string("an option");
    if (dynamic_cast<const po::unknown_option*>(&e)) return "unknown option " + option;
    if (dynamic_cast<const po::ambiguous_option*>(&e)) return "option " + option + " is ambiguous";
    if (dynamic_cast<const po::multiple_occurrences*>(&e)) return "option " + option + " is given more than once";
    if (const auto* syntax = dynamic_cast<const po::invalid_syntax*>(&e)) {
        switch (syntax->kind()) {
            case po::invalid_syntax::missing_parameter: return "option " + option + " needs a value";
            case po::invalid_syntax::extra_parameter: return "option " + option + " takes no value";
            default: return "invalid syntax at option " + option;
        }
    }
    return "invalid option " + option;
}

}  // namespace

po::variables_map parse_command_line(const std::vector<std::string>& args, const po::options_description& desc,
                                     const std::string& command) {
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw Error(describe_parse_error(e) + " (hint: run 'mlptrain " + command + " --help' for the options)");
    }
    return vm;
}

}  // namespace mlptrain::cli
