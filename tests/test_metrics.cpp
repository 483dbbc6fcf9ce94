// Tests for run metrics: the FNV-1a weights fingerprint (known answers, sensitivity to one
// bit, stability) and the confusion matrix counts.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mlptrain/core/metrics.hpp"

// The fingerprint is FNV-1a 64 over the float bytes: known answers computed independently
// in Python (empty input gives the offset basis).
TEST_CASE("fingerprint known answers") {
    CHECK(mlptrain::fingerprint(nullptr, 0) == "cbf29ce484222325");
    const float zero = 0.0f;
    CHECK(mlptrain::fingerprint(&zero, 1) == "4d25767f9dce13f5");
    const float three[] = {1.0f, -2.5f, 0.1f};
    CHECK(mlptrain::fingerprint(three, 3) == "3cf8e613b8128996");
}

// The fingerprint is 16 lowercase hex digits and the same on every call.
TEST_CASE("fingerprint format and stability") {
    std::vector<float> w(1000);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.37f - 11.0f;
    const std::string a = mlptrain::fingerprint(w.data(), static_cast<std::int64_t>(w.size()));
    CHECK(a.size() == 16);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(mlptrain::fingerprint(w.data(), static_cast<std::int64_t>(w.size())) == a);
    const std::vector<float> copy = w;
    CHECK(mlptrain::fingerprint(copy.data(), static_cast<std::int64_t>(copy.size())) == a);
}

// Flipping any single bit of any float (here: every bit of a few positions) changes it,
// as does dropping the last element.
TEST_CASE("fingerprint changes when one bit changes") {
    std::vector<float> w(257);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) / 7.0f;
    const auto n = static_cast<std::int64_t>(w.size());
    const std::string base = mlptrain::fingerprint(w.data(), n);
    for (std::size_t pos : {std::size_t{0}, std::size_t{128}, std::size_t{256}}) {
        for (int bit = 0; bit < 32; ++bit) {
            std::vector<float> v = w;
            std::uint32_t u;
            std::memcpy(&u, &v[pos], 4);
            u ^= 1u << bit;
            std::memcpy(&v[pos], &u, 4);
            CAPTURE(pos);
            CAPTURE(bit);
            CHECK(mlptrain::fingerprint(v.data(), n) != base);
        }
    }
    CHECK(mlptrain::fingerprint(w.data(), n - 1) != base);
    // +0 and −0 compare equal as floats but are different bits.
    const float pz = 0.0f, nz = -0.0f;
    CHECK(mlptrain::fingerprint(&pz, 1) != mlptrain::fingerprint(&nz, 1));
}

// counts[truth][predicted] over all pairs; rows sum to each class's support.
TEST_CASE("confusion matrix counts") {
    const std::vector<std::int32_t> truth = {0, 0, 1, 2, 2, 2, 1, 0};
    const std::vector<std::int32_t> predicted = {0, 1, 1, 2, 0, 2, 2, 0};
    const auto cm = mlptrain::confusion_matrix(truth, predicted, 3);
    const std::vector<std::vector<std::int64_t>> expected = {{2, 1, 0}, {0, 1, 1}, {1, 0, 2}};
    CHECK(cm == expected);
    // A class that never occurs still gets its (zero) row and column.
    const auto cm4 = mlptrain::confusion_matrix({1, 1}, {1, 0}, 4);
    REQUIRE(cm4.size() == 4);
    CHECK(cm4[1][1] == 1);
    CHECK(cm4[1][0] == 1);
    CHECK(cm4[3] == std::vector<std::int64_t>{0, 0, 0, 0});
    CHECK(mlptrain::confusion_matrix({}, {}, 2) ==
          std::vector<std::vector<std::int64_t>>{{0, 0}, {0, 0}});
}
