// The parameter arena: one 64-byte-aligned buffer holding every weight and bias in named
// slots. Gradients, optimizer moments and each shard's gradient buffer use the identical
// layout, so zeroing, reduction, the optimizer step, norms and checkpoints are flat loops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

// Owning, 64-byte aligned, zero-initialized float buffer. Move-only.
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::int64_t size);
    ~AlignedBuffer();
    AlignedBuffer(AlignedBuffer&& other) noexcept;
    AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;

    float* data() { return data_; }
    const float* data() const { return data_; }
    std::int64_t size() const { return size_; }
    void zero();
    // This buffer viewed as a (rows, cols) matrix; asserts that it fits.
    Matrix as_matrix(std::int64_t rows, std::int64_t cols);

private:
    float* data_ = nullptr;
    std::int64_t size_ = 0;
};

// One named tensor inside the arena: a (rows, cols) row-major block at `offset`.
struct Slot {
    std::string name;  // e.g. "layers.0.weight"
    std::int64_t offset = 0;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t size() const { return rows * cols; }
};

// The slots of an arena. Each slot starts on a 64-byte boundary (16 floats); the padding
// between slots is zero in every buffer and stays zero under every flat operation.
class ParameterLayout {
public:
    static constexpr std::int64_t alignment_floats = 16;

    // Appends a slot after the previous one; returns its index.
    int add_slot(const std::string& name, std::int64_t rows, std::int64_t cols);
    const std::vector<Slot>& slots() const { return slots_; }
    const Slot& slot(int index) const;
    // Floats in a buffer with this layout, padding included.
    std::int64_t total() const { return total_; }
    // Floats that are parameters (padding excluded).
    std::int64_t parameter_count() const;

    Matrix view(float* base, int index) const;
    ConstMatrix view(const float* base, int index) const;

private:
    std::vector<Slot> slots_;
    std::int64_t total_ = 0;
};

}  // namespace mlptrain
