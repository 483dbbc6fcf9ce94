// Fashion-MNIST through the real binary, on a 2,000-image subset of Debian's
// dataset-fashion-mnist: IDX .gz loading end to end, learning well above chance, and
// dropout masks that do not depend on the thread count. Skipped, with a message, when
// the package is not installed.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "test_support.hpp"

using test_support::fingerprint_of;

namespace {

const std::string dir = "/usr/share/datasets/fashion-mnist/";

bool have_fashion_mnist() {
    const bool present = std::filesystem::exists(dir + "train-images-idx3-ubyte.gz") &&
                         std::filesystem::exists(dir + "t10k-images-idx3-ubyte.gz");
    if (!present) MESSAGE("skipped: Fashion-MNIST not installed (scripts/setup.sh --with fashion-mnist)");
    return present;
}

const std::string subset = "train --train-data " + dir + "train-images-idx3-ubyte.gz --test-data " + dir +
                           "t10k-images-idx3-ubyte.gz --max-rows 2000 --quiet";

double accuracy_of(const std::string& out) {
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("accuracy ([0-9.]+)  \\((\\d+) rows\\)")));
    CHECK(m[2] == "2000");
    return std::stod(m[1]);
}


}  // namespace

// A short run on 2,000 training images reaches above 0.70 on 2,000 test images.
TEST_CASE("Fashion-MNIST smoke run learns above 0.70") {
    if (!have_fashion_mnist()) return;
    const auto r = test_support::run_cli(subset + " --layers 128 --epochs 5 --batch-size 32");
    REQUIRE(r.exit_status == 0);
    const double accuracy = accuracy_of(r.out);
    MESSAGE("Fashion-MNIST 2,000-image smoke accuracy: " << accuracy);
    CHECK(accuracy > 0.70);
}

// With dropout, 1 and 4 threads train bitwise the same weights: masks come from
// (seed, step, sample, layer), never from the thread or shard that draws them.
TEST_CASE("dropout masks are identical at 1 and 4 threads") {
    if (!have_fashion_mnist()) return;
    const std::string args = subset + " --layers 64,64 --dropout 0.3 --epochs 1 --batch-size 64 --shards 4";
    const auto one = test_support::run_cli(args + " --threads 1");
    const auto four = test_support::run_cli(args + " --threads 4");
    REQUIRE(one.exit_status == 0);
    REQUIRE(four.exit_status == 0);
    CHECK(fingerprint_of(one.out) == fingerprint_of(four.out));
    const auto no_dropout = test_support::run_cli(subset + " --layers 64,64 --epochs 1 --batch-size 64 --shards 4");
    CHECK(fingerprint_of(no_dropout.out) != fingerprint_of(one.out));  // dropout did act
}

// predict takes IDX images without their labels file and writes one row per image.
TEST_CASE("predict on IDX images needs no labels file") {
    if (!have_fashion_mnist()) return;
    test_support::TempDir tmp;
    const std::string model = tmp.path() + "/model";
    REQUIRE(test_support::run_cli(subset + " --layers 32 --epochs 1 --checkpoint-dir '" + model + "'").exit_status == 0);
    const std::string images = tmp.path() + "/only-images-idx3-ubyte.gz";  // no labels file beside it
    std::filesystem::copy_file(dir + "t10k-images-idx3-ubyte.gz", images);
    const std::string out = tmp.path() + "/p.csv";
    const auto r = test_support::run_cli("predict --model '" + model + "' --data '" + images + "' --output '" + out + "'");
    INFO(r.err);
    REQUIRE(r.exit_status == 0);
    std::ifstream csv(out);
    std::string line;
    int lines = 0;
    while (std::getline(csv, line)) ++lines;
    CHECK(lines == 10001);  // header + 10,000 images
}
