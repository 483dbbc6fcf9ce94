// Aligned buffers and the slot layout of the parameter arena (see arena.hpp).
#include "mlptrain/core/arena.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace mlptrain {

static std::int64_t round_up(std::int64_t n, std::int64_t multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

AlignedBuffer::AlignedBuffer(std::int64_t size) : size_(size) {
    MLPTRAIN_ASSERT(size >= 0, "negative buffer size");
    if (size == 0) return;
    const std::size_t bytes = static_cast<std::size_t>(round_up(size, 16)) * sizeof(float);
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data_) throw std::bad_alloc();
    std::memset(data_, 0, bytes);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
        std::free(data_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void AlignedBuffer::zero() {
    if (size_ > 0) std::memset(data_, 0, static_cast<std::size_t>(size_) * sizeof(float));
}

Matrix AlignedBuffer::as_matrix(std::int64_t rows, std::int64_t cols) {
    MLPTRAIN_ASSERT(rows >= 0 && cols >= 0 && rows * cols <= size_, "matrix does not fit buffer");
    return make_matrix(data_, rows, cols);
}

int ParameterLayout::add_slot(const std::string& name, std::int64_t rows, std::int64_t cols) {
    MLPTRAIN_ASSERT(rows > 0 && cols > 0, "empty parameter slot " + name);
    Slot slot{name, total_, rows, cols};
    total_ = round_up(slot.offset + slot.size(), alignment_floats);
    slots_.push_back(slot);
    // The invariant every flat loop relies on: slots are ordered, aligned, disjoint, and
    // the buffer ends where the last slot (rounded up) ends.
    std::int64_t expected = 0;
    for (const Slot& s : slots_) {
        MLPTRAIN_ASSERT(s.offset == expected, "slot offsets do not add up at " + s.name);
        expected = round_up(s.offset + s.size(), alignment_floats);
    }
    MLPTRAIN_ASSERT(expected == total_, "arena total does not match its slots");
    return static_cast<int>(slots_.size()) - 1;
}

const Slot& ParameterLayout::slot(int index) const {
    MLPTRAIN_ASSERT(index >= 0 && index < static_cast<int>(slots_.size()), "slot index");
    return slots_[static_cast<std::size_t>(index)];
}

std::int64_t ParameterLayout::parameter_count() const {
    std::int64_t count = 0;
    for (const Slot& s : slots_) count += s.size();
    return count;
}

Matrix ParameterLayout::view(float* base, int index) const {
    const Slot& s = slot(index);
    return make_matrix(base + s.offset, s.rows, s.cols);
}

ConstMatrix ParameterLayout::view(const float* base, int index) const {
    const Slot& s = slot(index);
    return make_matrix(base + s.offset, s.rows, s.cols);
}

}  // namespace mlptrain
