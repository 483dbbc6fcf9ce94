// Parsing a subcommand's arguments with Boost.Program_options, with our own messages for
// its errors: Boost's what() expands %placeholders% in text the user typed, which can loop
// forever ("%canonical_option%"), so it is never called.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace mlptrain::cli {

// Parses `args` against `desc` for `mlptrain <command>`. Throws Error with one line naming
// the option (escaped, see core/text.hpp) and a hint to `mlptrain <command> --help`.
boost::program_options::variables_map parse_command_line(const std::vector<std::string>& args,
                                                         const boost::program_options::options_description& desc,
                                                         const std::string& command);

}  // namespace mlptrain::cli
