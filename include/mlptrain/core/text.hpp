// Text for messages and output: quoting a field from a file or the user (escaped and cut, so
// it cannot garble a terminal), and the number formats every part of mlptrain prints.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mlptrain {

// `text` in single quotes for a message: control bytes and DEL escaped as \xNN (a NUL or an
// escape sequence never reaches the terminal raw), bytes that are not valid UTF-8 as \xNN
// each, C1 controls and the bidirectional and line-separator code points as \u{NNNN}; valid
// printable UTF-8 passes through. Text longer than `max_shown` shown characters (an escape
// counting as its length) is cut with "...", never inside a character or an escape.
std::string quote(std::string_view text, std::size_t max_shown = 40);
// As quote() without the quotes.
std::string printable(std::string_view text, std::size_t max_shown);

// "%.*f": fixed-point with `digits` decimals, e.g. format_fixed(0.91234, 4) = "0.9123".
std::string format_fixed(double value, int digits);
// "%.*g": `digits` significant digits; 9 round-trips a float, 17 a double.
std::string format_general(double value, int digits);
// A plain decimal for a message, at most six decimals: 0.1 → "0.1", 16 → "16"; values too
// small or too large for that keep their digits in %g form ("1e-07").
std::string format_number(double value);

}  // namespace mlptrain
