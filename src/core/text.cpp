// Quoting and number formatting (see text.hpp).
#include "mlptrain/core/text.hpp"

#include <cmath>
#include <cstdio>

namespace mlptrain {

std::string printable(std::string_view text, std::size_t max_shown) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
            out += escaped;
        }
    }
    if (text.size() > max_shown) out += "...";
    return out;
}

std::string quote(std::string_view text, std::size_t max_shown) {
    return "'" + printable(text, max_shown) + "'";
}

std::string format_fixed(double value, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

std::string format_general(double value, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    return text;
}

std::string format_number(double value) {
    if (!std::isfinite(value) || std::fabs(value) >= 1e15) return format_general(value, 17);
    std::string s = std::to_string(value);  // six decimals
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    if (s == "0" || s == "-0") {
        if (value != 0.0) return format_general(value, 6);  // tiny: keep its digits
        return "0";
    }
    return s;
}

}  // namespace mlptrain
