// Quoting and number formatting (see text.hpp).
#include "mlptrain/core/text.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace mlptrain {

namespace {

// The length of the valid UTF-8 sequence at text[i] (1 to 4) and its code point, or 0 when
// the bytes there are not valid UTF-8 (overlong forms, surrogates, code points above
// U+10FFFF and cut sequences are all invalid: RFC 3629's table).
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& code_point) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
    const unsigned char b0 = byte(0);
    if (b0 < 0x80) {
        code_point = b0;
        return 1;
    }
    std::size_t length = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
        if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        if (b0 == 0xF0) lo = 0x90;  // no overlong forms
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    if (text.size() - i < length) return 0;
    if (byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t k = 2; k < length; ++k)
        if ((byte(k) & 0xC0) != 0x80) return 0;
    code_point = b0 & (0xFF >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (byte(k) & 0x3F);
    return length;
}

// Code points above ASCII that a terminal acts on or that reorder or break the line around
// them: C1 controls (U+009B is CSI on some terminals), the Unicode line and paragraph
// separators, and the bidirectional marks, embeddings, overrides and isolates
// ("Trojan Source", CVE-2021-42574).
bool is_unsafe_code_point(char32_t c) {
    return (c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
           (c >= 0x2028 && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_shown) {
    std::string out;
    std::size_t shown = 0;  // characters written, an escape counting as its length
    for (std::size_t i = 0; i < text.size();) {
        char32_t c = 0;
        std::size_t length = decode_utf8(text, i, c);
        char piece[16];
        std::size_t piece_chars = 1;
        if (length == 0) {  // not UTF-8: this one byte, escaped
            std::snprintf(piece, sizeof piece, "\\x%02X", static_cast<unsigned char>(text[i]));
            length = 1;
            piece_chars = 4;
        } else if (c < 0x20 || c == 0x7F) {
            std::snprintf(piece, sizeof piece, "\\x%02X", static_cast<unsigned>(c));
            piece_chars = 4;
        } else if (is_unsafe_code_point(c)) {
            piece_chars = static_cast<std::size_t>(
                std::snprintf(piece, sizeof piece, "\\u{%04X}", static_cast<unsigned>(c)));
        } else {
            std::memcpy(piece, text.data() + i, length);
            piece[length] = '\0';
        }
        if (shown + piece_chars > max_shown) {
            out += "...";
            break;
        }
        out += piece;
        shown += piece_chars;
        i += length;
    }
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
