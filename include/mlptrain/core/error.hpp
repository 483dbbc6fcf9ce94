// User-facing errors and always-on assertions.
// Input and usage problems throw mlptrain::Error (exit status 2); numeric blow-ups throw
// NumericError (exit status 3); broken invariants abort through MLPTRAIN_ASSERT in every build.
#pragma once

#include <stdexcept>
#include <string>

namespace mlptrain {

// A problem with the user's input, flags or files. The message says where (file, line,
// column or flag), what was expected, what was found, and how to fix it.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
    virtual int exit_status() const { return 2; }
};

// Training produced NaN or Inf (loss or gradients). Reported with the step and layer.
class NumericError : public Error {
public:
    explicit NumericError(const std::string& message) : Error(message) {}
    int exit_status() const override { return 3; }
};

// Builds "what: expected X, found Y (hint)" messages consistently.
std::string describe(const std::string& where, const std::string& expected,
                     const std::string& found, const std::string& hint = "");

[[noreturn]] void assertion_failed(const char* condition, const char* file, int line,
                                   const std::string& message);

}  // namespace mlptrain

// Programmer errors: on in every build type, because they guard memory safety.
#define MLPTRAIN_ASSERT(cond, msg)                                                  \
    do {                                                                            \
        if (!(cond)) ::mlptrain::assertion_failed(#cond, __FILE__, __LINE__, (msg)); \
    } while (0)
