#!/usr/bin/env python3
"""Plot the loss and accuracy curves of a `mlptrain train --metrics-out FILE` log.

  scripts/plot_metrics.py metrics.jsonl [-o curves.png]

Needs python3-matplotlib (scripts/setup.sh --with plots). One JSON object per line, as
mlptrain writes them: epoch, train_loss, val_loss, val_accuracy, lr, ...
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics", help="JSON-lines file written by --metrics-out")
    ap.add_argument("-o", "--output", help="PNG to write (default: METRICS with .png)")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_metrics.py: matplotlib is missing (hint: scripts/setup.sh --with plots)")

    rows = []
    with open(a.metrics) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{a.metrics}, line {number}: expected a JSON object, found {line[:40]!r} ({e})")
    if not rows:
        sys.exit(f"{a.metrics}: expected at least one epoch, found none")

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train loss")
    val = [(r["epoch"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    if val:
        ax_loss.plot(*zip(*val), label="validation loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    acc = [(r["epoch"], r["val_accuracy"]) for r in rows if r.get("val_accuracy") is not None]
    if acc:
        ax_acc.plot(*zip(*acc), color="tab:green", label="validation accuracy")
        ax_acc.set_ylabel("accuracy")
        ax_acc.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.grid(alpha=0.3)
    fig.suptitle(a.metrics)
    fig.tight_layout()
    out = a.output or (a.metrics.rsplit(".", 1)[0] + ".png")
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
