#!/usr/bin/python3
"""mlptrain beside PyTorch, fairly: both tools train on the same real rows, with the same
optimizer settings, timed the same way (issue 9, item 3). scripts/bench.sh --compare-pytorch
runs it point by point; run alone, it interleaves rounds and prints a table.

  /usr/bin/python3 scripts/compare_torch.py [--networks 784-1024-1024-10/256,784-256-128-10/64]
      [--threads 2] [--rounds 3] [--epochs 3] [--shards N] [--kernels env|unset|both]
      [--torch-malloc tuned|default|both] [--data auto|fashion-mnist|digits] [--json OUT.json]
  /usr/bin/python3 scripts/compare_torch.py --one mlptrain|torch --layers 784,1024,1024,10
      --batch-size 256 --threads 2 [--blas-threads 2] [--data-dir DIR]   # one run, one JSON line

What is compared, per network (input, hidden widths, classes) and batch size:
  data       784 inputs: Fashion-MNIST's training images (/usr/share/datasets/fashion-mnist,
             scripts/setup.sh --with fashion-mnist), else data/digits.csv upscaled to 28x28
             (nearest neighbour, x255/16) and repeated; IDX files that both tools read, the
             features bytes/255 in both. 4 inputs: data/iris.csv standardized and repeated,
             a CSV that both read as it is (mlptrain --no-standardize). The first R rows, R
             about 2e11 / (6 x parameters) (an epoch of about 1 s at 100 GFLOP/s), between
             20 batches and 60,000 rows; --rows overrides.
  optimizer  SGD lr 0.05, momentum 0.9, no weight decay (mlptrain --weight-decay 0: its
             default is 0.01), no validation or test split, a fresh shuffle every epoch, the
             last partial batch kept. Linear+ReLU, softmax cross-entropy.
  timing     per epoch, from each tool's own loop: samples/s = rows / wall time of the
             epoch's steps (shuffle and evaluation excluded; mlptrain's EpochReport and
             --metrics-out), and the epoch's median step time (the steady state). Epoch 1 is
             warm-up: the figures are medians over epochs >= 2 (and over rounds).
  threads    mlptrain --threads T; PyTorch at T torch + T OpenBLAS threads and at 1 torch +
             T OpenBLAS threads (Debian's torch runs Linear on OpenBLAS's own pool, which
             torch.set_num_threads does not size); the faster setting is PyTorch's figure.
  kernels    both tools under one environment per row: as it is (this workplace sets
             OPENBLAS_CORETYPE=Haswell) and with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset
             (mlptrain picks the widest core the CPU runs, OpenBLAS in torch its own), when
             they differ. Each run records the core its tool used.
  rounds     interleaved: each round runs every tool once per point, the order flipping every
             round (the machine may be shared).

Why this PyTorch was "2x slower on synthetic data" (the old scripts/torch_bench.py, which fed it
torch.rand features): not the values (no subnormal float occurs in any tensor; FTZ/DAZ in every
thread changed nothing; the GEMM kernels did the same work), but glibc malloc. Debian's torch
1.13 allocates every step's activations and gradients afresh (up to 4 MB each). glibc serves a
block above its mmap threshold with a fresh mmap (zero-filled by the kernel, page by page) and
unmaps it on free, and trims the heap top above its trim threshold; both thresholds adapt to the
largest mmapped block (<= 32 MiB) freed so far, so the same loop takes 0 or 800-1,900 page faults
per step (about 8 us each on the project's VM) depending on what the process happened to free
*before* training. torch_bench.py took about 830 faults per step; a script that read the test
set first, about 20. PyTorch therefore runs here with fixed thresholds, GLIBC_TUNABLES=
glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456 (0 faults per step,
its fastest), and the faults per step are recorded; --torch-malloc default|both also runs it as
glibc leaves it. mlptrain allocates nothing in a step, so its speed depends on neither.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"
TORCH_MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456"
NETWORKS = "784-1024-1024-10/256,784-256-128-10/64"


def die(message):
    sys.exit(f"compare_torch.py: {message}")


def parse_network(text):
    """'784-1024-1024-10/256' -> ([784, 1024, 1024, 10], 256)."""
    try:
        layers, batch = text.split("/")
        sizes = [int(x) for x in layers.replace(",", "-").split("-")]
        if len(sizes) < 2 or min(sizes) < 1 or int(batch) < 1:
            raise ValueError
        return sizes, int(batch)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYERS/BATCH like 784-1024-1024-10/256, got {text!r}")


def parameters(sizes):
    return sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))


def default_rows(sizes, batch):
    """About one second of epoch at 100 GFLOP/s, between 20 batches and 60,000 rows."""
    return int(min(60000, max(20 * batch, round(2e11 / (6 * parameters(sizes))))))


# --- data -----------------------------------------------------------------------------------

def write_idx(path, payload, dims):
    """IDX (gzip): magic 0x0000 08 ndims, big-endian dims, unsigned bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(">" + "I" * len(dims), *dims)
    tmp = path + ".tmp"
    with gzip.open(tmp, "wb", compresslevel=1) as f:
        f.write(header + payload)
    os.replace(tmp, path)


def digits_as_idx(out_dir, rows):
    """data/digits.csv (8x8, 0..16, label last) -> 28x28 bytes, repeated to `rows` rows."""
    train = os.path.join(out_dir, f"digits{rows}-train-images-idx3-ubyte.gz")
    test = os.path.join(out_dir, f"digits{rows}-t10k-images-idx3-ubyte.gz")
    if os.path.exists(test.replace("images-idx3", "labels-idx1")):
        return train, test
    images, labels = [], []
    with open(os.path.join(ROOT, "data", "digits.csv")) as f:
        next(f)
        for line in f:
            v = line.strip().split(",")
            pix = [float(x) for x in v[:64]]
            images.append(bytes(min(255, round(pix[(r * 8 // 28) * 8 + c * 8 // 28] * 255 / 16))
                                for r in range(28) for c in range(28)))
            labels.append(int(float(v[64])))
    reps = [i % len(images) for i in range(rows)]
    write_idx(train, b"".join(images[i] for i in reps), (rows, 28, 28))
    write_idx(train.replace("images-idx3", "labels-idx1"), bytes(labels[i] for i in reps), (rows,))
    write_idx(test, b"".join(images[:256]), (256, 28, 28))
    write_idx(test.replace("images-idx3", "labels-idx1"), bytes(labels[:256]), (256,))
    return train, test


def iris_as_csv(out_dir, rows):
    """data/iris.csv standardized (mean 0, std 1 per column), classes 0..2, repeated."""
    path = os.path.join(out_dir, f"iris{rows}.csv")
    if os.path.exists(path):
        return path
    table, names = [], {}
    with open(os.path.join(ROOT, "data", "iris.csv")) as f:
        header = next(f).strip()
        for line in f:
            v = line.strip().split(",")
            table.append([float(x) for x in v[:-1]] + [names.setdefault(v[-1], len(names))])
    cols = len(table[0]) - 1
    mean = [statistics.fmean(r[c] for r in table) for c in range(cols)]
    std = [statistics.pstdev([r[c] for r in table]) or 1.0 for c in range(cols)]
    lines = [",".join(f"{(r[c] - mean[c]) / std[c]:.6f}" for c in range(cols)) + f",{r[-1]}" for r in table]
    with open(path + ".tmp", "w") as f:
        f.write(header + "\n" + "\n".join(lines[i % len(lines)] for i in range(rows)) + "\n")
    os.replace(path + ".tmp", path)
    return path


def data_for(sizes, rows, data_dir, choice="auto"):
    """{'kind': 'idx'|'csv', 'train', 'test', 'source'} for a network's input width."""
    if sizes[0] == 784:
        fashion = os.path.exists(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))
        if choice == "fashion-mnist" and not fashion:
            die(f"Fashion-MNIST is not installed in {FASHION} (scripts/setup.sh --with fashion-mnist)")
        if fashion and choice != "digits":
            return dict(kind="idx", train=os.path.join(FASHION, "train-images-idx3-ubyte.gz"),
                        test=os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"), source="Fashion-MNIST")
        train, test = digits_as_idx(data_dir, max(rows, 256))
        return dict(kind="idx", train=train, test=test, source="data/digits.csv upscaled to 28x28")
    if sizes[0] == 4:
        return dict(kind="csv", train=iris_as_csv(data_dir, rows), source="data/iris.csv standardized")
    die(f"no real data set with {sizes[0]} features (784: Fashion-MNIST or digits; 4: iris)")


# --- one run of one tool --------------------------------------------------------------------

def kernel_env(kernels):
    env = dict(os.environ)
    if kernels == "unset":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    return env


def mlptrain_environment(binary, env):
    """mlptrain's environment record (bench --json, one step), the core included."""
    out = subprocess.run([binary, "bench", "--layers", "4,3", "--batch-size", "4", "--steps", "1",
                          "--warmup", "0", "--no-ceiling", "--json"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        die(f"{binary} bench failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])["environment"]


def run_mlptrain(a, sizes, batch, rows, data, env):
    hidden = ",".join(map(str, sizes[1:-1]))
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as metrics:
        cmd = [a.mlptrain, "train", "--layers", hidden, "--batch-size", str(batch), "--lr", "0.05",
               "--momentum", "0.9", "--weight-decay", "0", "--epochs", str(a.epochs),
               "--validation-fraction", "0", "--threads", str(a.threads), "--max-rows", str(rows),
               "--metrics-out", metrics.name, "--quiet"]
        if data["kind"] == "idx":
            cmd += ["--train-data", data["train"], "--test-data", data["test"]]
        else:
            cmd += ["--data", data["train"], "--test-fraction", "0", "--no-standardize"]
        if a.shards:
            cmd += ["--shards", str(a.shards)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            die(f"mlptrain failed ({' '.join(cmd)}):\n{out.stderr.strip()}")
        epochs = [json.loads(line) for line in open(metrics.name)]
    environment = mlptrain_environment(a.mlptrain, env)
    return dict(tool="mlptrain", layers=sizes, batch_size=batch, rows=rows, threads=a.threads, shards=a.shards or None,
                blas_core=environment.get("blas_core"), environment=environment,
                epochs=[dict(epoch=e["epoch"], samples_per_s=e["samples_per_s"],  # (older builds: no median_step_ms)
                             median_step_ms=e.get("median_step_ms"), train_loss=e["train_loss"]) for e in epochs])


def run_torch(a, sizes, batch, rows, data, env, blas_threads, malloc):
    env = dict(env)
    if malloc == "tuned":
        env["GLIBC_TUNABLES"] = TORCH_MALLOC
    cmd = [a.python, os.path.join(ROOT, "scripts", "torch_train.py"),
           "--images" if data["kind"] == "idx" else "--csv", data["train"],
           "--layers", ",".join(map(str, sizes[1:-1])), "--batch-size", str(batch), "--epochs", str(a.epochs),
           "--max-rows", str(rows), "--threads", str(a.torch_threads or a.threads), "--blas-threads", str(blas_threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        die(f"torch failed ({' '.join(cmd)}):\n{out.stderr.strip()}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["malloc"] = malloc
    return result


def summarize(result, data):
    """Adds the steady-state figures: medians over epochs >= 2 (all epochs when only one)."""
    steady = result["epochs"][1:] or result["epochs"]
    result["samples_per_s"] = statistics.median(e["samples_per_s"] for e in steady)
    steps = [e["median_step_ms"] for e in steady if e["median_step_ms"] is not None]
    result["median_step_ms"] = statistics.median(steps) if steps else None
    result["us_per_step"] = result["median_step_ms"] * 1e3 if steps else None
    if "minor_faults_per_step" in steady[0]:
        result["faults_per_step"] = statistics.median(e["minor_faults_per_step"] for e in steady)
    result["data"] = data["source"]
    return result


def one_run(a, tool, sizes, batch, env, blas_threads=None, malloc="tuned"):
    rows = a.rows or default_rows(sizes, batch)
    data = data_for(sizes, rows, a.data_dir, a.data)
    if tool == "mlptrain":
        return summarize(run_mlptrain(a, sizes, batch, rows, data, env), data)
    return summarize(run_torch(a, sizes, batch, rows, data, env, blas_threads or a.threads, malloc), data)


# --- the whole comparison -------------------------------------------------------------------

def kernel_sets(a):
    if a.kernels != "both":
        return [a.kernels]
    cores = {k: mlptrain_environment(a.mlptrain, kernel_env(k)).get("blas_core") for k in ("env", "unset")}
    return ["env", "unset"] if cores["env"] != cores["unset"] else ["env"]


def compare(a):
    mallocs = ["tuned", "default"] if a.torch_malloc == "both" else [a.torch_malloc]
    settings = sorted({a.threads, 1})  # torch threads, with OpenBLAS at a.threads
    runs = []
    for r in range(1, a.rounds + 1):
        for sizes, batch in a.networks:
            for kernels in kernel_sets(a):
                env = kernel_env(kernels)
                jobs = [("mlptrain", None, None)] + [("torch", t, m) for t in settings for m in mallocs]
                if r % 2 == 0:
                    jobs.reverse()
                for tool, torch_threads, malloc in jobs:
                    a.torch_threads = torch_threads
                    result = one_run(a, tool, sizes, batch, env, a.threads, malloc or "tuned")
                    result.update(round=r, kernels=kernels)
                    runs.append(result)
                    print(f"round {r}: {'-'.join(map(str, sizes))}/{batch} {kernels} {tool}"
                          f"{'' if tool == 'mlptrain' else f' {torch_threads}+{a.threads} {malloc}'}: "
                          f"{result['samples_per_s']:,.0f} samples/s", file=sys.stderr)
    return runs


def table(a, runs):
    def key(r):
        setting = "" if r["tool"] == "mlptrain" else f" {r['threads']}+{r['blas_threads']} {r['malloc']}"
        return ("-".join(map(str, r["layers"])), r["batch_size"], r["kernels"], r["tool"] + setting)
    groups = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    lines = [f"data: {runs[0]['data']}; {a.rounds} round(s) x {a.epochs} epochs, epoch 1 warm-up; "
             f"medians over epochs >= 2 and rounds [min-max]; {a.threads} thread(s)"
             f"{f', mlptrain --shards {a.shards}' if a.shards else ''}",
             "| network | batch | kernels (core) | tool | samples/s | median step ms | faults/step | mlptrain / this |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    for k, group in groups.items():
        ours = groups[k[:3] + ("mlptrain",)]
        ours_sps = statistics.median(e["samples_per_s"] for r in ours for e in (r["epochs"][1:] or r["epochs"]))
        sps = [e["samples_per_s"] for r in group for e in (r["epochs"][1:] or r["epochs"])]
        steps = [e["median_step_ms"] for r in group for e in (r["epochs"][1:] or r["epochs"])
                 if e["median_step_ms"] is not None]  # (None: a build before median_step_ms)
        step = f"{statistics.median(steps):.3f}" if steps else "-"
        faults = [r["faults_per_step"] for r in group if "faults_per_step" in r]
        median = statistics.median(sps)
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} ({group[0].get('blas_core')}) | {k[3]} | "
                     f"{median:,.0f} [{min(sps):,.0f}-{max(sps):,.0f}] | {step} | "
                     f"{f'{statistics.median(faults):.0f}' if faults else '-'} | {ours_sps / median:.2f}x |")
    return "\n".join(lines) + "\n"


def parse_args():
    ap = argparse.ArgumentParser(description="mlptrain beside PyTorch on the same real rows, timed the same way",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--networks", default=NETWORKS, help=f"LAYERS/BATCH list (default {NETWORKS})")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="mlptrain threads = OpenBLAS threads of torch (default: all CPUs)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3, help="per run; epoch 1 is warm-up (default 3)")
    ap.add_argument("--shards", type=int, default=0,
                    help="mlptrain's shards per batch (default: its own, from the batch size: a batch of 256 gives 2, "
                         "and more threads than shards share each shard in teams where the kernels split exactly)")
    ap.add_argument("--rows", type=int, default=0, help="rows per epoch (default: from the network's size)")
    ap.add_argument("--kernels", choices=["env", "unset", "both"], default="both")
    ap.add_argument("--torch-malloc", choices=["tuned", "default", "both"], default="tuned")
    ap.add_argument("--mlptrain", default=os.path.join(ROOT, "build", "mlptrain"), help="the binary (default build/mlptrain)")
    ap.add_argument("--python", default=os.environ.get("MLPTRAIN_TORCH_PYTHON", "/usr/bin/python3"))
    ap.add_argument("--data", choices=["auto", "fashion-mnist", "digits"], default="auto",
                    help="784-input networks: Fashion-MNIST when installed (auto), or the upscaled digits")
    ap.add_argument("--data-dir", help="where generated data sets are kept (default: a temporary directory)")
    ap.add_argument("--json", help="write every run, with its environment record, here")
    one = ap.add_argument_group("one run (what bench.sh calls)")
    one.add_argument("--one", choices=["mlptrain", "torch"], help="run this tool once and print one JSON line")
    one.add_argument("--layers", help="all layer sizes, e.g. 784,1024,1024,10")
    one.add_argument("--batch-size", type=int)
    one.add_argument("--torch-threads", type=int, help="torch's intra-op threads (default: --threads)")
    one.add_argument("--blas-threads", type=int, help="torch's OpenBLAS threads (default: --threads)")
    a = ap.parse_args()
    if min(a.threads, a.rounds) < 1 or a.epochs < 2 or a.rows < 0 or a.shards < 0:
        ap.error("--threads and --rounds must be positive, --epochs at least 2, --rows and --shards not negative")
    a.networks = [parse_network(n) for n in a.networks.split(",")]
    if a.one and (not a.layers or not a.batch_size):
        ap.error("--one needs --layers and --batch-size")
    return a


def main():
    a = parse_args()
    with tempfile.TemporaryDirectory(prefix="compare_torch.") as scratch:
        a.data_dir = a.data_dir or scratch
        os.makedirs(a.data_dir, exist_ok=True)
        if a.one:
            sizes, batch = parse_network(f"{a.layers}/{a.batch_size}")
            malloc = "tuned" if a.torch_malloc == "both" else a.torch_malloc
            result = one_run(a, a.one, sizes, batch, dict(os.environ), a.blas_threads, malloc)
            print(json.dumps(result))
            return
        a.torch_threads = None
        runs = compare(a)
    text = table(a, runs)
    sys.stdout.write(text)
    if a.json:
        record = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      host=platform.node(), torch_malloc=TORCH_MALLOC, epochs=a.epochs, rounds=a.rounds,
                      runs=runs, table=text)
        with open(a.json + ".tmp", "w") as f:
            json.dump(record, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
