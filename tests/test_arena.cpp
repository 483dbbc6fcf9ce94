// Tests for the parameter arena: slot offsets on 64-byte boundaries that add up, the
// total and parameter count, views into a buffer, and AlignedBuffer's alignment, zeroing
// and move semantics; the streaming copy the trainer writes the weights with.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "mlptrain/core/arena.hpp"
#include "mlptrain/core/prefetch.hpp"
#include "mlptrain/core/stream_store.hpp"

using mlptrain::AlignedBuffer;
using mlptrain::ParameterLayout;

namespace {
bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }
}  // namespace

// Each slot starts at the previous slot's end rounded up to 16 floats; total is the last
// end rounded up; parameter_count excludes the padding.
TEST_CASE("slot offsets are aligned and add up") {
    ParameterLayout layout;
    CHECK(layout.add_slot("a", 3, 5) == 0);   // 15 floats at 0
    CHECK(layout.add_slot("b", 1, 3) == 1);   // 3 floats at 16
    CHECK(layout.add_slot("c", 4, 8) == 2);   // 32 floats at 32
    CHECK(layout.add_slot("d", 1, 17) == 3);  // 17 floats at 64
    REQUIRE(layout.slots().size() == 4);
    CHECK(layout.slot(0).offset == 0);
    CHECK(layout.slot(1).offset == 16);
    CHECK(layout.slot(2).offset == 32);
    CHECK(layout.slot(3).offset == 64);
    CHECK(layout.total() == 96);
    CHECK(layout.parameter_count() == 15 + 3 + 32 + 17);
    CHECK(layout.slot(2).name == "c");
    CHECK(layout.slot(2).rows == 4);
    CHECK(layout.slot(2).cols == 8);
    CHECK(layout.slot(2).size() == 32);
    std::int64_t expected = 0;
    for (const mlptrain::Slot& s : layout.slots()) {
        CHECK(s.offset == expected);
        CHECK(s.offset % ParameterLayout::alignment_floats == 0);
        expected = (s.offset + s.size() + 15) / 16 * 16;
    }
    CHECK(expected == layout.total());
    CHECK(ParameterLayout::alignment_floats * sizeof(float) == 64);
}

// An empty layout has no floats.
TEST_CASE("empty layout") {
    ParameterLayout layout;
    CHECK(layout.total() == 0);
    CHECK(layout.parameter_count() == 0);
}

// view() points at the slot's offset with the slot's shape, const and mutable alike, and
// every slot in a 64-byte aligned buffer is itself 64-byte aligned.
TEST_CASE("views into a buffer") {
    ParameterLayout layout;
    layout.add_slot("w", 2, 3);
    layout.add_slot("b", 1, 2);
    AlignedBuffer buf(layout.total());
    mlptrain::Matrix w = layout.view(buf.data(), 0);
    mlptrain::Matrix b = layout.view(buf.data(), 1);
    CHECK(w.data == buf.data());
    CHECK(w.rows == 2);
    CHECK(w.cols == 3);
    CHECK(w.ld == 3);
    CHECK(b.data == buf.data() + 16);
    CHECK(b.rows == 1);
    CHECK(b.cols == 2);
    CHECK(aligned64(b.data));
    w(1, 2) = 5.0f;
    b(0, 1) = 7.0f;
    CHECK(buf.data()[5] == 5.0f);
    CHECK(buf.data()[17] == 7.0f);
    const AlignedBuffer& cbuf = buf;
    const mlptrain::ConstMatrix cb = layout.view(cbuf.data(), 1);
    CHECK(cb(0, 1) == 7.0f);
    // The padding between slots stays zero.
    for (std::int64_t i = 6; i < 16; ++i) CHECK(buf.data()[i] == 0.0f);
}

// AlignedBuffer is 64-byte aligned and zero-initialized for many sizes; zero() clears it.
TEST_CASE("AlignedBuffer alignment and zeroing") {
    for (std::int64_t size : {1, 3, 15, 16, 17, 100, 4099}) {
        CAPTURE(size);
        AlignedBuffer buf(size);
        REQUIRE(buf.data() != nullptr);
        CHECK(buf.size() == size);
        CHECK(aligned64(buf.data()));
        bool all_zero = true;
        for (std::int64_t i = 0; i < size; ++i) all_zero = all_zero && buf.data()[i] == 0.0f;
        CHECK(all_zero);
        for (std::int64_t i = 0; i < size; ++i) buf.data()[i] = 1.5f;
        buf.zero();
        all_zero = true;
        for (std::int64_t i = 0; i < size; ++i) all_zero = all_zero && buf.data()[i] == 0.0f;
        CHECK(all_zero);
    }
    AlignedBuffer empty;
    CHECK(empty.data() == nullptr);
    CHECK(empty.size() == 0);
    empty.zero();  // no-op, no crash
    AlignedBuffer zero_size(0);
    CHECK(zero_size.size() == 0);
}

// Moving transfers ownership: the source is left empty, the target holds the data.
TEST_CASE("AlignedBuffer move semantics") {
    AlignedBuffer a(10);
    a.data()[3] = 4.0f;
    float* p = a.data();
    AlignedBuffer b(std::move(a));
    CHECK(b.data() == p);
    CHECK(b.size() == 10);
    CHECK(b.data()[3] == 4.0f);
    CHECK(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): the contract under test
    CHECK(a.size() == 0);
    AlignedBuffer c(5);
    c = std::move(b);
    CHECK(c.data() == p);
    CHECK(c.size() == 10);
    CHECK(b.data() == nullptr);  // NOLINT(bugprone-use-after-move)
    CHECK(b.size() == 0);
    AlignedBuffer& alias = c;
    c = std::move(alias);  // self-move keeps the buffer
    CHECK(c.data() == p);
    CHECK(c.size() == 10);
}

// as_matrix views the buffer as (rows, cols) with ld = cols.
TEST_CASE("AlignedBuffer as_matrix") {
    AlignedBuffer buf(12);
    mlptrain::Matrix m = buf.as_matrix(3, 4);
    CHECK(m.data == buf.data());
    CHECK(m.rows == 3);
    CHECK(m.cols == 4);
    CHECK(m.ld == 4);
    m(2, 1) = 9.0f;
    CHECK(buf.data()[9] == 9.0f);
    const mlptrain::Matrix smaller = buf.as_matrix(2, 5);
    CHECK(smaller.rows == 2);
}

// stream_copy copies every byte at any alignment and length: the aligned middle with
// streaming stores, the ends with plain ones.
TEST_CASE("stream_copy copies every byte at any alignment") {
    std::vector<unsigned char> from(300), to(300);
    for (std::size_t i = 0; i < from.size(); ++i) from[i] = static_cast<unsigned char>(i * 7 + 3);
    for (std::size_t offset : {0u, 1u, 5u, 15u, 16u})
        for (std::size_t bytes : {0u, 1u, 15u, 16u, 17u, 64u, 200u, 283u}) {
            CAPTURE(offset);
            CAPTURE(bytes);
            std::fill(to.begin(), to.end(), 0xEE);
            mlptrain::stream_copy(to.data() + offset, from.data() + offset, bytes);
            mlptrain::stream_fence();
            bool exact = true;  // the bytes copied, and nothing around them touched
            for (std::size_t i = 0; i < to.size(); ++i)
                exact = exact && to[i] == (i >= offset && i < offset + bytes ? from[i] : 0xEE);
            CHECK(exact);
        }
}

// prefetch_for_write is a hint: at any alignment and length (zero, less than a line, across
// lines) it leaves every byte as it was.
TEST_CASE("prefetch_for_write changes no memory") {
    std::vector<unsigned char> bytes(1000);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 13 + 1);
    const std::vector<unsigned char> before = bytes;
    for (std::size_t offset : {0u, 1u, 63u, 64u, 100u})
        for (std::size_t length : {0u, 1u, 63u, 64u, 65u, 500u, 900u}) {
            mlptrain::prefetch_for_write(bytes.data() + offset, length);
            CHECK(bytes == before);
        }
}
