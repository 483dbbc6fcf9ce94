// User-facing errors and always-on assertions.
// Input and usage problems throw mlptrain::Error (exit status 2); numeric blow-ups throw
// NumericError (exit status 3); broken invariants abort through MLPTRAIN_ASSERT in every build.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace mlptrain {

// A reference to a configuration field (a RunConfig member, e.g. "batch_size") inside a
// message. what() shows the field's name; the command line renders it as its flag
// ("--batch-size") through render_fields, so the library never speaks in flags.
std::string field_ref(const std::string& field);
// `text` with every field_ref replaced by name_of(field).
std::string render_fields(const std::string& text,
                          const std::function<std::string(const std::string&)>& name_of);

// A problem with the user's input, settings or files. The message says where (file, line,
// column or field), what was expected, what was found, and how to fix it.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message);
    virtual int exit_status() const { return 2; }
    // The message with its field references still marked (see field_ref).
    const std::string& marked() const { return marked_; }

private:
    std::string marked_;
};

// Training produced NaN or Inf (loss or gradients). Reported with the step and layer.
class NumericError : public Error {
public:
    explicit NumericError(const std::string& message) : Error(message) {}
    int exit_status() const override { return 3; }
};

// A configuration value that breaks a rule: "<field>: expected …, found … (hint: …)".
// field() says which value, so that a caller can point at where the user wrote it (a flag,
// or a config file's line).
class ConfigError : public Error {
public:
    ConfigError(const std::string& field, const std::string& expected, const std::string& found,
                const std::string& hint = "");
    const std::string& field() const { return field_; }
    // The message after "<field>: ", field references marked.
    const std::string& detail() const { return detail_; }

private:
    std::string field_;
    std::string detail_;
};

// Builds "where: expected X, found Y (hint)" messages consistently.
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
