#!/usr/bin/python3
"""PyTorch CPU training throughput for the network that `mlptrain bench` trains, for comparison.

Run with Debian's /usr/bin/python3 and python3-torch (`scripts/setup.sh --with torch`):

  /usr/bin/python3 scripts/torch_bench.py --layers 784,1024,1024,10 --batch-size 256 \
      --threads 2 --seconds 3 --json
  /usr/bin/python3 scripts/torch_bench.py --threads 1 --blas-threads 2 --json   # see below

Same workload as `mlptrain bench`: Linear layers with ReLU between them, CrossEntropyLoss
(softmax cross-entropy), SGD lr 0.001 momentum 0.9, synthetic uniform [0,1) features and
uniformly drawn labels, max(8 x batch, 1024) rows walked through batch by batch. Each timed
step is: batch gather (index_select) + forward + loss + backward + optimizer step. After
--warmup untimed steps, steps run until --seconds have passed (at least 3).

Threads: OMP_NUM_THREADS (torch's intra-op pool) = --threads and OPENBLAS_NUM_THREADS =
--blas-threads (default: --threads) are set before torch is imported, and
torch.set_num_threads(--threads) is called. Debian's torch calls OpenBLAS (the pthread build,
through libblas.so.3) for Linear, and torch.set_num_threads does not limit OpenBLAS's own
pool, so the two are separate knobs; on the project's 2-core machine the fastest setting was
1 torch thread + 2 OpenBLAS threads.

Prints one JSON line with --json (samples_per_s, steps_per_s, us_per_step, threads,
blas_threads, torch version, ...), else a short human-readable summary.
"""
import argparse
import os
import sys
import time


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def layer_sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes like 784,1024,10, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected at least an input and an output size, got {text!r}")
    return sizes


def parse_args():
    ap = argparse.ArgumentParser(
        description="PyTorch CPU training throughput of the MLP that `mlptrain bench` trains.")
    ap.add_argument("--layers", type=layer_sizes, default=layer_sizes("784,1024,1024,10"),
                    help="all layer sizes, input to output (default 784,1024,1024,10)")
    ap.add_argument("--batch-size", type=positive_int, default=256, help="rows per step (default 256)")
    ap.add_argument("--threads", type=positive_int, default=1,
                    help="torch threads: OMP_NUM_THREADS and torch.set_num_threads (default 1)")
    ap.add_argument("--blas-threads", type=positive_int, default=None,
                    help="OPENBLAS_NUM_THREADS (default: --threads)")
    ap.add_argument("--seconds", type=positive_float, default=3.0,
                    help="time budget of the timed steps (default 3)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data and the initial weights")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.warmup < 0:
        ap.error("--warmup must be non-negative")
    if args.blas_threads is None:
        args.blas_threads = args.threads
    return args


def openblas_threads():
    """OpenBLAS's own thread count as the loaded library reports it, or None if not found."""
    try:
        import ctypes
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and "/" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_num_threads"):
                return path, int(lib.openblas_get_num_threads())
    except OSError:
        pass
    return None, None


def main():
    args = parse_args()
    # Both pools are sized when their libraries load, so this must precede `import torch`.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    os.environ["MKL_NUM_THREADS"] = str(args.blas_threads)

    try:
        import torch
        import torch.nn as nn
    except ImportError as e:
        sys.exit(f"torch_bench.py: cannot import torch ({e}); install it with "
                 "`scripts/setup.sh --with torch` and run this with /usr/bin/python3")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sizes, batch = args.layers, args.batch_size
    modules = []
    for i in range(len(sizes) - 1):
        modules.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            modules.append(nn.ReLU())
    model = nn.Sequential(*modules)
    parameters = sum(p.numel() for p in model.parameters())
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    rows = max(8 * batch, 1024)
    gen = torch.Generator().manual_seed(args.seed + 1)
    features = torch.rand(rows, sizes[0], generator=gen)
    labels = torch.randint(0, sizes[-1], (rows,), generator=gen)
    order = torch.arange(rows)
    position = 0

    def step():
        nonlocal position
        if position + batch > rows:
            position = 0
        index = order[position:position + batch]
        position += batch
        xb = features.index_select(0, index)
        yb = labels.index_select(0, index)
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    steps = 0
    start = time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - start
        if steps >= 3 and elapsed >= args.seconds:
            break

    blas_lib, blas_reported = openblas_threads()
    result = {
        "tool": "torch",
        "layers": sizes,
        "batch_size": batch,
        "parameters": parameters,
        "threads": args.threads,
        "blas_threads": args.blas_threads,
        "torch_threads": torch.get_num_threads(),
        "openblas_reported_threads": blas_reported,
        "openblas_library": blas_lib,
        "steps": steps,
        "seconds": elapsed,
        "samples_per_s": steps * batch / elapsed,
        "steps_per_s": steps / elapsed,
        "us_per_step": elapsed / steps * 1e6,
        "gflops": 6.0 * parameters * steps * batch / elapsed / 1e9,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    if args.json:
        import json
        print(json.dumps(result))
    else:
        print(f"torch {result['torch']}: network {'-'.join(map(str, sizes))}, batch {batch}, "
              f"{args.threads} torch thread(s), {args.blas_threads} OpenBLAS thread(s)")
        print(f"{steps} steps in {elapsed:.3f} s: {result['samples_per_s']:.0f} samples/s, "
              f"{result['steps_per_s']:.1f} steps/s, {result['us_per_step']:.1f} us/step, "
              f"{result['gflops']:.2f} GFLOP/s")


if __name__ == "__main__":
    main()
