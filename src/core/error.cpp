// Error messages, field references and the assertion handler (see error.hpp).
#include "mlptrain/core/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace mlptrain {

// U+001F (unit separator) around the field name: a control byte that no message text of
// ours contains and that quote() escapes in text taken from files.
constexpr char field_mark = '\x1f';

std::string field_ref(const std::string& field) { return field_mark + field + field_mark; }

std::string render_fields(const std::string& text,
                          const std::function<std::string(const std::string&)>& name_of) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        const std::size_t open = text.find(field_mark, pos);
        const std::size_t close = open == std::string::npos ? open : text.find(field_mark, open + 1);
        if (close == std::string::npos) {
            out.append(text, pos, std::string::npos);
            return out;
        }
        out.append(text, pos, open - pos);
        out += name_of(text.substr(open + 1, close - open - 1));
        pos = close + 1;
    }
}

static std::string field_name(const std::string& field) { return field; }

Error::Error(const std::string& message)
    : std::runtime_error(render_fields(message, field_name)), marked_(message) {}

ConfigError::ConfigError(const std::string& field, const std::string& expected,
                         const std::string& found, const std::string& hint)
    : Error(describe(field_ref(field), expected, found, hint)),
      field_(field),
      detail_(describe("", expected, found, hint).substr(2)) {}

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
