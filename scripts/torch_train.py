#!/usr/bin/python3
"""PyTorch's side of scripts/compare_torch.py: trains the MLP that `mlptrain train` trains, on
the same rows, and times it the way mlptrain's --metrics-out does. Run it with Debian's
/usr/bin/python3 and python3-torch (`scripts/setup.sh --with torch`); compare_torch.py calls it.

  /usr/bin/python3 scripts/torch_train.py --images DIR/train-images-idx3-ubyte.gz \
      --layers 1024,1024 --batch-size 256 --epochs 3 --max-rows 20000 --threads 1 --blas-threads 2
  /usr/bin/python3 scripts/torch_train.py --csv rows.csv --layers 16 --batch-size 16

Data: IDX images (.gz; the labels file beside them, images-idx3 -> labels-idx1), features =
bytes / 255 as mlptrain scales uint8 (it does not standardize IDX data); or a CSV whose last
column is an integer class and whose features are used as they are (mlptrain gets
--no-standardize).
Model and optimizer as mlptrain's with the comparison's flags: Linear layers with ReLU between
them, softmax cross-entropy, SGD lr 0.05 momentum 0.9, no weight decay. Each epoch walks a
fresh random permutation of all rows, the last partial batch included (as mlptrain does); a
step is gather (X[idx]) + forward + loss + backward + SGD step.

Timing, per epoch, as mlptrain's EpochReport: `samples_per_s` = rows / wall time of the
epoch's step loop (the shuffle before it excluded), `median_step_ms` = the upper median of the
epoch's step times. Also `minor_faults_per_step` (getrusage over the loop): see
compare_torch.py's header for why page faults decide this PyTorch's speed.

Threads: OMP_NUM_THREADS = --threads and OPENBLAS_NUM_THREADS = --blas-threads are set before
torch loads (Debian's torch runs Linear through OpenBLAS, whose pool torch.set_num_threads
does not size). Prints one JSON object: the per-epoch figures, the settings and the
environment (torch, numpy and OpenBLAS versions, the OpenBLAS core, the variables in force).
"""
import argparse
import ctypes
import datetime
import gzip
import json
import os
import platform
import resource
import struct
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--images", help="IDX images (.gz), labels beside them")
    data.add_argument("--csv", help="CSV with a header line, integer class in the last column")
    ap.add_argument("--layers", default="1024,1024", help="hidden widths (input and output from the data)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-rows", type=int, default=0, help="first N rows only (0: all)")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: --threads)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.blas_threads is None:
        a.blas_threads = a.threads
    if min(a.batch_size, a.epochs, a.threads, a.blas_threads) < 1 or a.max_rows < 0:
        ap.error("sizes, epochs and thread counts must be positive")
    return a


def read_idx(path):
    data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dims = struct.unpack(">" + "I" * data[3], data[4:4 + 4 * data[3]])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def load(a):
    """(features float32 (rows, in), labels int64 (rows)) as mlptrain sees them."""
    if a.images:
        images = read_idx(a.images)
        labels = read_idx(a.images.replace("images-idx3", "labels-idx1"))
        if a.max_rows:
            images, labels = images[:a.max_rows], labels[:a.max_rows]
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0), labels.astype(np.int64)
    table = np.loadtxt(a.csv, delimiter=",", skiprows=1, dtype=np.float64)
    if a.max_rows:
        table = table[:a.max_rows]
    return table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)


def openblas_info():
    """The OpenBLAS that this process loaded: library path, version string and core."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "/" in line and ("openblas" in line or "libblas" in line)})
        for path in paths:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_corename"):
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                return dict(library=os.path.realpath(path), core=lib.openblas_get_corename().decode(),
                            config=lib.openblas_get_config().decode(),
                            threads=int(lib.openblas_get_num_threads()))
    except OSError:
        pass
    return dict(library=None, core=None, config=None, threads=None)


def environment(blas):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return dict(tool="torch", torch_version=torch.__version__, numpy_version=np.__version__,
                python=platform.python_version(), openblas_library=blas["library"],
                openblas_config=blas["config"], blas_core=blas["core"], cpu_model=cpu,
                logical_cpus=os.cpu_count(), affinity_cpus=len(os.sched_getaffinity(0)),
                env={k: v for k, v in sorted(os.environ.items())
                     if k.startswith(("OPENBLAS_", "OMP_", "GLIBC_TUNABLES", "MKL_"))},
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def train(a, X, y):
    classes = int(y.max()) + 1
    sizes = [X.shape[1]] + [int(w) for w in a.layers.split(",") if w] + [classes]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    generator = torch.Generator().manual_seed(a.seed)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    N, B = X.shape[0], a.batch_size
    epochs = []
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(N, generator=generator)
        times, loss_sum = [], 0.0
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for s in range(0, N, B):
            t = time.perf_counter()
            idx = order[s:s + B]
            xb, yb = X[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - t)
            loss_sum += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
        times.sort()
        epochs.append(dict(epoch=epoch, samples_per_s=N / seconds, median_step_ms=times[len(times) // 2] * 1e3,
                           min_step_ms=times[0] * 1e3, train_loss=loss_sum / N,
                           minor_faults_per_step=faults / len(times), steps=len(times)))
    return sizes, epochs


if __name__ == "__main__":
    args = parse_args()
    # Both pools are sized when their libraries load, so this must precede `import torch`.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    try:
        import numpy as np
        import torch
        import torch.nn as nn
    except ImportError as e:
        sys.exit(f"torch_train.py: cannot import torch ({e}); install it with "
                 "`scripts/setup.sh --with torch` and run this with /usr/bin/python3")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    features, labels = load(args)
    sizes, epochs = train(args, features, labels)
    blas = openblas_info()
    print(json.dumps(dict(tool="torch", layers=sizes, batch_size=args.batch_size, rows=len(labels),
                          threads=args.threads, blas_threads=args.blas_threads, lr=args.lr,
                          momentum=args.momentum, blas_core=blas["core"], epochs=epochs,
                          environment=environment(blas))))
