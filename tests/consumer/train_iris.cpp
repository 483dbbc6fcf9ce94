// A program that uses mlptrain as a library: trains on a CSV file with the documented
// defaults (30 epochs), checkpointing into a directory, then evaluates the saved model and
// prints the weights fingerprint — the one `mlptrain train` prints for the same settings.
//   usage: train_iris DATA.csv CHECKPOINT_DIR
#include <cstdio>

#include <mlptrain/mlptrain.hpp>

// Hears about the run: a line every 10 epochs.
class EpochPrinter : public mlptrain::RunObserver {
public:
    void on_epoch(const mlptrain::EpochReport& r) override {
        if (r.epoch % 10 == 0) std::printf("epoch %lld  train_loss %.4f\n", static_cast<long long>(r.epoch), r.train_loss);
    }
};

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s DATA.csv CHECKPOINT_DIR\n", argv[0]);
        return 2;
    }
    try {
        mlptrain::RunConfig config;  // every setting at its documented default
        config.data = argv[1];
        config.epochs = 30;
        config.checkpoint_dir = argv[2];
        mlptrain::PreparedRun run = mlptrain::prepare_run(config);
        EpochPrinter printer;
        const mlptrain::FitResult result = mlptrain::fit(run, printer);
        std::printf("test accuracy %.4f (%lld rows)\n", result.test->accuracy, static_cast<long long>(result.test->rows));

        // The checkpoint, loaded back and evaluated on every row of the file.
        const mlptrain::SavedModel model = mlptrain::load_model(argv[2]);
        const mlptrain::Dataset data = mlptrain::load_model_data(model, {argv[1]}, mlptrain::Labels::required);
        const mlptrain::EvalResult all = mlptrain::evaluate(model, data);
        std::printf("checkpoint at step %lld: accuracy %.4f on all %lld rows\n",
                    static_cast<long long>(model.checkpoint.step), all.accuracy, static_cast<long long>(all.rows));
        std::printf("weights fingerprint: %s\n", result.weights_fingerprint.c_str());
        return 0;
    } catch (const mlptrain::Error& e) {
        std::fprintf(stderr, "train_iris: %s\n", e.what());
        return e.exit_status();
    }
}
