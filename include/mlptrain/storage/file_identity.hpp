// Whether two paths name one file, so that an output never replaces an input: the same
// device and inode when both exist (and it is a regular file: writing to a terminal or pipe
// loses nothing), else the same canonical path (an output that does not exist yet, reached
// through another spelling or a symbolic link).
#pragma once

#include <string>
#include <vector>

namespace mlptrain {

bool same_file(const std::string& a, const std::string& b);

// Throws Error "<output_what> <output>: expected a file that is not an input, found the
// same file as <input_what> <input>" for the first of `inputs` (what, path) that `output`
// names; empty paths are skipped.
void refuse_output_over_input(const std::string& output_what, const std::string& output,
                              const std::vector<std::pair<std::string, std::string>>& inputs);

}  // namespace mlptrain
