// IDX loading (the MNIST / Fashion-MNIST format), gzip-compressed or raw: images stay
// uint8 in the Dataset and are scaled to [0, 1] when a batch is gathered, so memory stays
// near the file size. Parses and validates only.
#pragma once

#include <string>

#include "mlptrain/data/dataset.hpp"

namespace mlptrain {

class Input;

// true when `in` starts like an IDX file (0x00 0x00, a known type, a dimension count), or is
// a gzip stream that does not inflate to something else (only IDX is read compressed).
// Peeks; consumes nothing, so the caller
// can hand the same Input to load_csv: a pipe is never opened twice.
bool is_idx_input(Input& in);

// true when the file (after gunzip, if it is gzip) starts with an IDX magic number
// (0x00 0x00 type dims). Never throws for a readable file; false for unreadable ones.
bool is_idx_file(const std::string& path);

// The labels file that goes with an images file by the usual naming:
// ".../train-images-idx3-ubyte.gz" → ".../train-labels-idx1-ubyte.gz". Empty if the name
// does not follow it.
std::string idx_labels_path_for(const std::string& images_path);

// Loads N images (IDX type 0x08 uint8, 3 dimensions N × rows × cols, or 2 dimensions
// N × features) and N labels (uint8, 1 dimension). class_names are "0" … "max label".
// Throws Error naming the file for: unreadable file, bad gzip stream, wrong magic, an
// element type other than uint8, dimensions whose product overflows or disagrees with the
// data size (truncated or trailing bytes), and a label count that differs from the image count.
Dataset load_idx(const std::string& images_path, const std::string& labels_path);
// The same from Inputs already opened (each read once, front to back: either may be a pipe).
Dataset load_idx(Input& images, Input& labels);

// The images alone (no labels, no class names), for prediction.
Dataset load_idx_images(const std::string& images_path);
Dataset load_idx_images(Input& images);

}  // namespace mlptrain
