// Error message formatting and the assertion handler (see error.hpp).
#include "mlptrain/core/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace mlptrain {

std::string describe(const std::string& where, const std::string& expected,
                     const std::string& found, const std::string& hint) {
    std::string message = where + ": expected " + expected + ", found " + found;
    if (!hint.empty()) message += " (hint: " + hint + ")";
    return message;
}

void assertion_failed(const char* condition, const char* file, int line,
                      const std::string& message) {
    std::fprintf(stderr, "mlptrain: internal error: %s:%d: assertion '%s' failed: %s\n", file,
                 line, condition, message.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace mlptrain
