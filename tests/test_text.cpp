// Tests for core/text's quote(): any input text is shown safely (no raw control bytes, no
// NUL, nothing cut inside a character), and printable UTF-8 passes through.
#include <doctest/doctest.h>

#include <string>

#include "mlptrain/core/text.hpp"

using mlptrain::quote;

// Printable ASCII and valid UTF-8 pass through unchanged, inside single quotes.
TEST_CASE("quote: printable text passes through") {
    CHECK(quote("tall") == "'tall'");
    CHECK(quote("") == "''");
    CHECK(quote("x, y \"z\" C:\\data") == "'x, y \"z\" C:\\data'");
    CHECK(quote("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80") ==
          "'caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80'");
}

// Control bytes and DEL are escaped; a NUL no longer ends the message.
TEST_CASE("quote: control bytes are escaped") {
    CHECK(quote(std::string("4\0zz", 4)) == "'4\\x00zz'");
    CHECK(quote("\x1b[31mRED\x1b[0m") == "'\\x1B[31mRED\\x1B[0m'");
    CHECK(quote("a\tb\r\nc\x7f") == "'a\\x09b\\x0D\\x0Ac\\x7F'");
    CHECK(quote(std::string("\0\0", 2)).find('\0') == std::string::npos);
}

// Bytes that are not UTF-8 are escaped one by one; so are code points that steer a terminal
// (C1 controls) or reorder the text around them (bidirectional overrides).
TEST_CASE("quote: invalid UTF-8 and unsafe code points are escaped") {
    CHECK(quote("\xFF\xFE") == "'\\xFF\\xFE'");
    CHECK(quote("\xC3") == "'\\xC3'");                            // cut sequence
    CHECK(quote("\xC0\xAF") == "'\\xC0\\xAF'");                    // overlong '/'
    CHECK(quote("\xED\xA0\x80") == "'\\xED\\xA0\\x80'");           // surrogate U+D800
    CHECK(quote("\xF4\x90\x80\x80") == "'\\xF4\\x90\\x80\\x80'");  // above U+10FFFF
    CHECK(quote("\xC2\x9B" "2J") == "'\\u{009B}2J'");              // C1 CSI
    CHECK(quote("ab\xE2\x80\xAE" "cd") == "'ab\\u{202E}cd'");      // right-to-left override
}

// Long text is cut at max_shown characters with "...", never inside a UTF-8 sequence or an
// escape; text of exactly max_shown characters is not cut.
TEST_CASE("quote: long text is cut at a character boundary") {
    CHECK(quote(std::string(40, 'a')) == "'" + std::string(40, 'a') + "'");
    CHECK(quote(std::string(41, 'a')) == "'" + std::string(40, 'a') + "...'");
    CHECK(quote(std::string(1000000, 'a')).size() == 40 + 5);
    const std::string e_acute = "\xC3\xA9";
    CHECK(quote(std::string(39, 'a') + e_acute) == "'" + std::string(39, 'a') + e_acute + "'");
    CHECK(quote(std::string(39, 'a') + e_acute + "b") == "'" + std::string(39, 'a') + e_acute + "...'");
    CHECK(quote(std::string(38, 'a') + "\x01") == "'" + std::string(38, 'a') + "...'");
    CHECK(quote("abcdef", 3) == "'abc...'");
}
