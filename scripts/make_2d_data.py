#!/usr/bin/env python3
"""Writes the three 2-D playground data sets: data/moons.csv, data/circles.csv, data/spirals.csv.

  scripts/make_2d_data.py [--out-dir data]

Each file has the header `x1,x2,label`, the label a class name, rows in a seeded random
order (so that --max-rows N still sees both classes). Needs python3-numpy only. The
numbers come from NumPy's legacy RandomState, whose streams NumPy promises never to change
(the newer Generator may change between releases), and are written with 4 decimals, so
the committed files are reproduced byte for byte.
"""
import argparse
import os

import numpy as np

SEED = 20240614


def moons(rng, n=300, noise=0.12):
    # Two interleaved half circles of radius 1: the upper one centred at (0, 0), the lower
    # one at (1, 0.5) and flipped, as in the TensorFlow Playground and scikit-learn.
    half = n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    upper = np.column_stack([np.cos(t[:half]), np.sin(t[:half])])
    lower = np.column_stack([1.0 - np.cos(t[half:]), 0.5 - np.sin(t[half:])])
    x = np.vstack([upper, lower]) + rng.normal(0.0, noise, size=(n, 2))
    return x, ["upper"] * half + ["lower"] * (n - half)


def circles(rng, n=300, noise=0.08):
    # An inner disc-edge of radius 0.5 inside a ring of radius 1, both around the origin.
    half = n // 2
    t = rng.uniform(0.0, 2.0 * np.pi, size=n)
    r = np.concatenate([np.full(half, 0.5), np.full(n - half, 1.0)])
    x = np.column_stack([r * np.cos(t), r * np.sin(t)]) + rng.normal(0.0, noise, size=(n, 2))
    return x, ["inner"] * half + ["outer"] * (n - half)


def spirals(rng, n=400, noise=0.03, turns=1.75):
    # Two arms r = 4·s, angle = turns·2π·s + arm·π for s in [0.08, 1): the Playground's
    # spiral, the classic test that a linear model cannot pass and a small MLP can.
    half = n // 2
    x, labels = [], []
    for arm, name in ((0, "arm_a"), (1, "arm_b")):
        s = np.sort(rng.uniform(0.08, 1.0, size=half))
        angle = turns * 2.0 * np.pi * s + arm * np.pi
        r = 4.0 * s
        x.append(np.column_stack([r * np.sin(angle), r * np.cos(angle)]))
        labels += [name] * half
    x = np.vstack(x) + rng.normal(0.0, noise * 4.0, size=(n, 2))
    return x, labels


def write(path, x, labels, rng):
    order = rng.permutation(len(labels))
    with open(path, "w", newline="\n") as f:
        f.write("x1,x2,label\n")
        for i in order:
            f.write(f"{x[i, 0]:.4f},{x[i, 1]:.4f},{labels[i]}\n")
    print(f"wrote {path}: {len(labels)} rows")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
    a = ap.parse_args()
    # One RandomState per data set: adding or changing one set leaves the others' bytes alone.
    for offset, (name, make) in enumerate((("moons", moons), ("circles", circles), ("spirals", spirals))):
        rng = np.random.RandomState(SEED + offset)
        x, labels = make(rng)
        write(os.path.join(a.out_dir, name + ".csv"), x, labels, rng)


if __name__ == "__main__":
    main()
