#!/usr/bin/env python3
"""Pictures of what a 2-feature mlptrain model learned, TensorFlow-Playground style.

  scripts/plot_boundary.py MODEL DATA [--output FILE.png] [--hidden] [--hidden-max N]
                           [--animate [RUN_DIR]] [--grid N] [--features I,J] [--label COL]

MODEL is a checkpoint file or a --checkpoint-dir (its newest checkpoint); DATA the CSV the
model was trained on (or any CSV with its feature columns and label column). Draws the
model's prediction over a grid covering the data, in the data's own units: the predicted
class shaded by its probability (cross_entropy, bce) or the predicted value (mse), the
decision boundary, the data points coloured by their true class, misclassified points
ringed in black, and a title with the model, the epoch and the run's test accuracy.

  --hidden           add one panel per unit of the first hidden layer: its activation over
                     the same grid (white 0, red positive, blue negative)
  --animate [DIR]    one frame per checkpoint of DIR (default: MODEL) beside the loss curve
                     (from --metrics, DIR/metrics.jsonl or DIR.jsonl); a .gif output is an
                     animation, a .png output a strip of 6 frames (--frames N: at most N
                     frames, evenly spaced). Keep every checkpoint with
                     `train --checkpoint-every N --keep-checkpoints 0`.
  --features I,J     for a model with more than 2 features: draw features I and J (0-based
                     feature columns, or their names) with the others held at their means
                     over the training rows (the checkpoint's standardization; DATA's means
                     if the run had --no-standardize)

Every number comes from mlptrain itself: `mlptrain predict` on a file of grid points (and
`predict --activations 1` for --hidden), `mlptrain evaluate --split test` for the test
accuracy (the run's own test rows, from the data file its checkpoint names: run the script
where train ran, or the title gives the accuracy on DATA instead); predict applies the
checkpoint's standardization. The checkpoint's metadata
(model, epoch, class names, feature means) is read from its safetensors header, as
tests/safetensors_reader.py does. Needs python3-matplotlib and python3-numpy (and
python3-pil for GIFs): scripts/setup.sh --with plots. The binary is --mlptrain PATH,
$MLPTRAIN, build/mlptrain beside this script, or mlptrain on PATH.
"""
import argparse
import csv
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

PROG = "plot_boundary.py"
try:
    import numpy as np
except ImportError:
    sys.exit(f"{PROG}: error: Python module numpy is missing for {sys.executable} (hint: scripts/setup.sh "
             "--with plots installs Debian's python3-numpy, python3-matplotlib and python3-pil for "
             "/usr/bin/python3; run the script with that interpreter)")
# Class colours (matplotlib's tab10); the map shades white → class colour with confidence.
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MAP_STRENGTH = 0.6  # share of the class colour at probability 1: points stay visible on it
HIDDEN_CMAP = "RdBu_r"


def fail(message, status=2):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(status)


# ---- the checkpoint, read without mlptrain (safetensors: u64 header size, JSON header, tensors)

def checkpoint_files(directory):
    """The step-*.safetensors files of a checkpoint directory, oldest first."""
    names = sorted(n for n in os.listdir(directory) if re.fullmatch(r"step-\d{12}\.safetensors", n))
    return [os.path.join(directory, n) for n in names]


def resolve_checkpoint(path):
    """A checkpoint file, or the newest one of a directory (mlptrain's rule: the step decides)."""
    if os.path.isdir(path):
        files = checkpoint_files(path)
        if not files:
            fail(f"{path}: expected a directory with step-*.safetensors checkpoints, found none")
        return files[-1]
    if not os.path.isfile(path):
        fail(f"{path}: expected a checkpoint file or directory, found nothing there")
    return path


def read_checkpoint(path):
    """Metadata of an mlptrain checkpoint: model spec, class names, loop state, feature means."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + size])
        meta = header.pop("__metadata__")
        info = {"path": path,
                "model": json.loads(meta["model"]),
                "class_names": json.loads(meta["class_names"]),
                "state": json.loads(meta["state"]),
                "mean": None}
    except (struct.error, ValueError, KeyError) as e:
        fail(f"{path}: expected an mlptrain checkpoint (safetensors with mlptrain metadata), found {e!r}")
    t = header.get("standardization.mean")
    if t is not None:  # the training rows' feature means, in the data's units
        begin, end = t["data_offsets"]
        info["mean"] = np.frombuffer(raw[8 + size + begin:8 + size + end], dtype="<f4").astype(float)
    return info


def describe_model(info):
    m = info["model"]
    return "-".join(str(s) for s in m["sizes"]) + f" {m['hidden_activation']} {m['loss']}"


def describe_progress(info):
    """'epoch 60 (step 840)': a checkpoint at an epoch's end already holds the next epoch's state."""
    st = info["state"]
    done = st["epoch"] - 1
    text = f"epoch {done}" if st["position"] == 0 else f"epoch {done} + {st['position']} rows"
    return f"{text} (step {st['step']})"


# ---- data and mlptrain

def read_data(path, label):
    """Feature names, features (rows, features) and labels (text) of a CSV; label: name, index or None (last)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail(f"{path}: cannot read: {e.strerror}")
    if len(rows) < 2:
        fail(f"{path}: expected a header row and data rows, found {len(rows)} line(s)")
    header = rows[0]
    if label is None:
        col = len(header) - 1
    elif label in header:
        col = header.index(label)
    elif label.isdigit() and int(label) < len(header):
        col = int(label)
    else:
        fail(f"--label {label}: expected a column of {path} ({', '.join(header)})")
    names = [h for i, h in enumerate(header) if i != col]
    try:
        x = np.array([[float(v) for i, v in enumerate(r) if i != col] for r in rows[1:] if r], dtype=float)
    except ValueError as e:
        fail(f"{path}: expected numeric feature columns, found {e}")
    y = [r[col] for r in rows[1:] if r]
    return names, x, y


class Mlptrain:
    def __init__(self, binary):
        self.binary = binary

    def run(self, *args):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr.strip()

    def predict(self, model, data, out, activations=None):
        """predict's CSV as (header, rows of text)."""
        args = ["predict", "--model", model, "--data", data, "--output", out]
        if activations:
            args += ["--activations", str(activations)]
        status, _, err = self.run(*args)
        if status != 0:
            fail(f"mlptrain predict failed (exit status {status}): {err}", status)
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        return rows[0], rows[1:]

    def test_result(self, model):
        """'test accuracy 0.9667 (58 of 60)' from `evaluate --split test` (the run's own test
        rows, found again from the data file and seed its checkpoint names), or None and why."""
        status, out, err = self.run("evaluate", "--model", model, "--split", "test")
        if status != 0:
            return None, err
        m = re.search(r"^accuracy ([0-9.]+) \((\d+) of (\d+) rows\)", out, re.M)
        if m:
            return f"test accuracy {m[1]} ({m[2]} of {m[3]})", None
        m = re.search(r"^rmse ([0-9.]+)", out, re.M)
        if m:
            return f"test rmse {m[1]}", None
        return None, "unexpected evaluate output"


def find_mlptrain(given):
    candidates = [given, os.environ.get("MLPTRAIN"),
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "mlptrain"),
                  shutil.which("mlptrain")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    fail("mlptrain not found (hint: scripts/build.sh, or --mlptrain PATH)")


# ---- what to draw

class Scene:
    """The grid and data shared by every picture of one model: features, ranges, classes."""

    def __init__(self, a, info, names, x, y):
        self.names, self.x, self.y = names, x, y
        self.loss = info["model"]["loss"]
        self.classes = info["class_names"]
        inputs = info["model"]["sizes"][0]
        if len(names) != inputs:
            fail(f"{a.data}: expected the model's {inputs} feature columns, found {len(names)} "
                 f"(hint: --label COL names the label column)")
        self.note = ""
        if inputs == 2:
            self.i, self.j = 0, 1
            if a.features and [self._feature(f) for f in a.features.split(",")] != [0, 1]:
                fail("--features: the model has 2 features; omit --features")
        elif not a.features:
            fail(f"{a.model}: the model has {inputs} input features and a map shows 2 "
                 f"(hint: --features I,J draws features I and J, the others held at their training means)")
        else:
            parts = a.features.split(",")
            if len(parts) != 2:
                fail(f"--features: expected two features I,J, found {a.features!r}")
            self.i, self.j = (self._feature(p) for p in parts)
            if self.i == self.j:
                fail(f"--features: expected two different features, found {a.features!r}")
            held = "their training means" if info["mean"] is not None else "their means in " + os.path.basename(a.data)
            # The map is a slice; the points (and their rings) are predicted from all their features.
            self.note = f"map: other features at {held}; points: predicted from all features"
        # The value every feature takes on the grid; the two drawn ones vary.
        self.base = info["mean"] if info["mean"] is not None else x.mean(axis=0)
        self.xlim, self.ylim = self._ranges(x[:, self.i], x[:, self.j], square=inputs == 2)
        n = a.grid
        # Cell centres, so that imshow's extent equals the ranges exactly.
        self.gx = self.xlim[0] + (np.arange(n) + 0.5) * (self.xlim[1] - self.xlim[0]) / n
        self.gy = self.ylim[0] + (np.arange(n) + 0.5) * (self.ylim[1] - self.ylim[0]) / n
        self.n = n

    def _feature(self, text):
        text = text.strip()
        if text in self.names:
            return self.names.index(text)
        if text.isdigit() and int(text) < len(self.names):
            return int(text)
        fail(f"--features: expected feature indices 0..{len(self.names) - 1} or names "
             f"({', '.join(self.names)}), found {text!r}")

    @staticmethod
    def _ranges(u, v, square):
        """The data's ranges padded by 10%. For a 2-D data set, similar ranges are made equal:
        a square map that shows shapes as they are (a projection's features have their own units)."""
        lo = np.array([u.min(), v.min()])
        hi = np.array([u.max(), v.max()])
        span = np.maximum(hi - lo, 1e-9)
        lo, hi = lo - 0.1 * span, hi + 0.1 * span
        span = hi - lo
        if square and span.max() / span.min() < 3:
            mid = (lo + hi) / 2
            lo, hi = mid - span.max() / 2, mid + span.max() / 2
        return (lo[0], hi[0]), (lo[1], hi[1])

    def equal_aspect(self):
        return abs((self.xlim[1] - self.xlim[0]) - (self.ylim[1] - self.ylim[0])) < 1e-9

    def write_inputs(self, path):
        """Grid points (row-major, y outer) then the data rows: one predict call serves both."""
        gx, gy = np.meshgrid(self.gx, self.gy)
        grid = np.tile(self.base, (self.n * self.n, 1))
        grid[:, self.i] = gx.ravel()
        grid[:, self.j] = gy.ravel()
        with open(path, "w") as f:
            f.write(",".join(self.names) + "\n")
            for row in (grid, self.x):
                np.savetxt(f, row, fmt="%.7g", delimiter=",")


class Frame:
    """mlptrain's predictions for one checkpoint: the map over the grid and the data rows."""

    def __init__(self, scene, header, rows):
        n = scene.n * scene.n
        self.scene = scene
        if scene.loss == "mse":
            self.value = np.array([float(r[0]) for r in rows[:n]]).reshape(scene.n, scene.n)
            return
        names = [h[2:] for h in header[1:]]  # p_<class>
        p = np.array([[float(v) for v in r[1:]] for r in rows], dtype=float)
        self.prob = p[:n].reshape(scene.n, scene.n, -1)
        self.predicted = [r[0] for r in rows[n:]]
        self.wrong = np.array([t != q for t, q in zip(scene.y, self.predicted)], dtype=bool)
        self.classes = names

    def accuracy(self):
        return 1.0 - self.wrong.mean()

    def colors(self, levels=0):
        """(n, n, 3) RGB in [0, 1]: white → class colour with the confidence of the predicted
        class; levels > 0 rounds the confidence up to that many steps (flat bands: a GIF
        of them is a fraction of the size)."""
        k = self.prob.shape[2]
        best = self.prob.argmax(axis=2)
        # Confidence 0 at a tie between all classes, 1 at probability 1.
        q = (self.prob.max(axis=2) - 1.0 / k) / (1.0 - 1.0 / k)
        if levels:
            q = np.ceil(q * levels) / levels
        rgb = np.array([class_rgb(c) for c in range(k)])[best]
        strength = (MAP_STRENGTH * q)[..., None]
        return 1.0 - strength * (1.0 - rgb)


def class_rgb(c):
    h = CLASS_COLORS[c % len(CLASS_COLORS)]
    return np.array([int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)])


# ---- drawing

def remove_contours(cs):
    if hasattr(cs, "remove"):  # matplotlib 3.8 and later: one artist
        cs.remove()
    else:  # 3.6 (Debian 12): one collection per level
        for c in cs.collections:
            c.remove()


class MapView:
    """The map, decision boundary and data points on one axes. update() redraws only what a
    checkpoint changes, so that an animation reuses one figure: building axes and their
    ticks is most of matplotlib's time."""

    def __init__(self, ax, scene, small=False, levels=0):
        self.ax, self.scene, self.small, self.levels = ax, scene, small, levels
        s = scene
        extent = (*s.xlim, *s.ylim)
        size = 6 if small or len(s.y) > 1000 else 18
        self.contours = []
        if s.loss == "mse":
            # The targets' range, fixed: a colour means the same value in every frame and on the points.
            target = np.array([float(v) for v in s.y])
            self.vmin, self.vmax = float(target.min()), float(target.max())
            self.image = ax.imshow(np.zeros((s.n, s.n)), extent=extent, origin="lower", interpolation="nearest",
                                   cmap="viridis", vmin=self.vmin, vmax=self.vmax, aspect="auto")
            ax.scatter(s.x[:, s.i], s.x[:, s.j], c=target, cmap="viridis", vmin=self.vmin, vmax=self.vmax,
                       s=size, edgecolors="black", linewidths=0.4, zorder=3)
        else:
            self.image = ax.imshow(np.ones((s.n, s.n, 3)), extent=extent, origin="lower",
                                   interpolation="nearest", aspect="auto")
            index = {name: c for c, name in enumerate(s.classes)}
            colors = np.array([class_rgb(index.get(t, 0)) for t in s.y])
            ax.scatter(s.x[:, s.i], s.x[:, s.j], c=colors, s=size, edgecolors="white", linewidths=0.4, zorder=3)
            self.rings = ax.scatter(np.empty(0), np.empty(0), s=size * 3.5, facecolors="none",
                                    edgecolors="black", linewidths=1.0, zorder=4)
        ax.set_xlim(*s.xlim)
        ax.set_ylim(*s.ylim)
        if s.equal_aspect():
            ax.set_aspect("equal", adjustable="box")
        if small:
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.set_xlabel(s.names[s.i])
            ax.set_ylabel(s.names[s.j])

    def update(self, frame):
        s = self.scene
        for cs in self.contours:
            remove_contours(cs)
        self.contours = []
        if s.loss == "mse":
            self.image.set_data(frame.value)
            return
        self.image.set_data(frame.colors(self.levels))
        k = frame.prob.shape[2]
        # Class c's region ends where its probability stops being the largest.
        for c in range(k if k > 2 else 1):
            margin = frame.prob[:, :, c] - np.delete(frame.prob, c, axis=2).max(axis=2)
            if margin.min() < 0 < margin.max():
                self.contours.append(self.ax.contour(s.gx, s.gy, margin, levels=[0.0], colors="#333333",
                                                     linewidths=0.8 if self.small else 1.0, zorder=2))
        self.rings.set_offsets(np.column_stack([s.x[frame.wrong, s.i], s.x[frame.wrong, s.j]]))

    def legend(self, frame):
        from matplotlib.lines import Line2D
        if self.scene.loss == "mse":
            self.ax.figure.colorbar(self.image, ax=self.ax, fraction=0.046, pad=0.03, label="prediction")
            return None
        handles = [Line2D([], [], marker="o", ls="", markerfacecolor=class_rgb(c), markeredgecolor="white",
                          markersize=7, label=name) for c, name in enumerate(self.scene.classes)]
        wrong = int(frame.wrong.sum())
        if wrong:
            handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="black",
                                  markersize=9, label=f"misclassified ({wrong})"))
        return self.ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)


class CurveView:
    """The loss curve of the run (or, without a metrics log, the accuracy on DATA at each
    checkpoint), grey in full and coloured up to the frame's step, with a marker there."""

    def __init__(self, ax, metrics, steps, accuracy, data_name):
        self.ax, self.lines = ax, []
        if metrics:
            series = [("train loss", [(m["step"], m["train_loss"]) for m in metrics])]
            val = [(m["step"], m["val_loss"]) for m in metrics if m.get("val_loss") is not None]
            if val:
                series.append(("validation loss", val))
            ax.set_yscale("log")
            ax.set_ylabel("loss")
        else:
            series = [(f"accuracy on {data_name}", list(zip(steps, accuracy)))]
            ax.set_ylabel("accuracy")
        for label, points in series:
            x, y = np.array(points, dtype=float).T
            ax.plot(x, y, color="#bbbbbb", lw=1)
            line, = ax.plot(x, y, lw=1.6, label=label)
            self.lines.append((line, x, y))
        self.marker = ax.axvline(steps[-1], color="black", lw=0.8)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right" if metrics else "lower right")

    def update(self, step):
        for line, x, y in self.lines:
            line.set_data(x[x <= step], y[x <= step])
        self.marker.set_xdata([step, step])


def bbox_px(fig, artist):
    """An axes' data area (or an artist's extent) in image pixels: [left, top, right, bottom], y downwards."""
    b = artist.get_window_extent()
    height = fig.canvas.get_width_height()[1]
    return [round(b.x0, 1), round(height - b.y1, 1), round(b.x1, 1), round(height - b.y0, 1)]


def map_layout(fig, ax, scene):
    return {"bbox": bbox_px(fig, ax), "xlim": list(scene.xlim), "ylim": list(scene.ylim)}


def base_layout(scene):
    return {"mode": {"mse": "value", "bce": "probability"}.get(scene.loss, "class"),
            "classes": scene.classes, "class_colors": [list(class_rgb(c)) for c in range(len(scene.classes))],
            "map_strength": MAP_STRENGTH, "points": len(scene.y), "grid": scene.n,
            "features": [scene.names[scene.i], scene.names[scene.j]]}


def read_metrics(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    fail(f"{path}, line {number}: expected a JSON object, found {line[:40]!r}")
    return rows


def hidden_range(activation, v):
    """Colour scale of a unit's panel: bounded activations share their natural range, so
    panels compare; unbounded ones use the unit's own largest magnitude. White is 0."""
    if activation == "tanh":
        return -1.0, 1.0
    if activation == "sigmoid":
        return 0.0, 1.0
    m = float(np.abs(v).max()) or 1.0
    return -m, m


def plot_still(a, ml, scene, model, info, tmp):
    import matplotlib.pyplot as plt
    inputs = os.path.join(tmp, "inputs.csv")
    scene.write_inputs(inputs)
    frame = Frame(scene, *ml.predict(model, inputs, os.path.join(tmp, "pred.csv")))

    test, why = ml.test_result(model)
    if test is None:
        # The run had no test rows, or its data file is not where its checkpoint says (train
        # ran in another directory): say what the number is instead.
        test = (f"accuracy on all {len(scene.y)} rows of {os.path.basename(a.data)} {frame.accuracy():.4f}"
                if scene.loss != "mse" else "")
        print(f"{PROG}: note: no test accuracy ({why.splitlines()[-1] if why else 'unknown'})", file=sys.stderr)
    title = f"{os.path.basename(a.data)}: {describe_model(info)}\n{describe_progress(info)}" + (f" · {test}" if test else "")

    units = []
    if a.hidden:
        sizes = info["model"]["sizes"]
        if len(sizes) < 3:
            fail(f"--hidden: the model {describe_model(info)} has no hidden layer")
        _, rows = ml.predict(model, inputs, os.path.join(tmp, "hidden.csv"), activations=1)
        acts = np.array([[float(v) for v in r] for r in rows[:scene.n * scene.n]])
        units = list(range(min(sizes[1], a.hidden_max)))

    if units:
        cols = int(np.ceil(np.sqrt(len(units))))
        rows_ = int(np.ceil(len(units) / cols))
        fig = plt.figure(figsize=(11, 5.4), dpi=100)
        outer = fig.add_gridspec(1, 2, left=0.07, right=0.98, top=0.86, bottom=0.1, wspace=0.12)
        ax = fig.add_subplot(outer[0])
        inner = outer[1].subgridspec(rows_, cols, wspace=0.08, hspace=0.25)
    else:
        fig = plt.figure(figsize=(5.6, 5.4), dpi=100)
        ax = fig.add_axes([0.13, 0.1, 0.82, 0.76])
    view = MapView(ax, scene)
    view.update(frame)
    overlays = [view.legend(frame)]  # drawn over the map
    if scene.note:
        overlays.append(ax.text(0.01, 0.01, scene.note, transform=ax.transAxes, fontsize=7, va="bottom",
                                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0}))
    fig.suptitle(title, fontsize=10)

    layout = base_layout(scene)
    layout.update({"title": title, "misclassified": int(frame.wrong.sum()) if scene.loss != "mse" else None})
    panels = []
    if units:
        activation = info["model"]["hidden_activation"]
        for k, u in enumerate(units):
            h = fig.add_subplot(inner[k // cols, k % cols])
            v = acts[:, u].reshape(scene.n, scene.n)
            vmin, vmax = hidden_range(activation, v)
            h.imshow(v, extent=(*scene.xlim, *scene.ylim), origin="lower", interpolation="nearest",
                     cmap=HIDDEN_CMAP, vmin=vmin, vmax=vmax, aspect="auto")
            h.set_xticks([])
            h.set_yticks([])
            if scene.equal_aspect():
                h.set_aspect("equal", adjustable="box")
            h.set_title(f"h1_{u}" + (" (constant)" if np.ptp(v) == 0 else ""), fontsize=7, pad=2)
            panels.append((h, u, vmin, vmax))
        total = info["model"]["sizes"][1]
        shown = f"first hidden layer ({activation}): " + (
            f"all {total} units" if len(units) == total else f"first {len(units)} of {total} units (--hidden-max)")
        fig.text(0.75, 0.02, shown + "; white 0, red > 0, blue < 0", ha="center", fontsize=8)
        layout["units_total"] = total
    fig.canvas.draw()  # fixes the axes' positions (equal aspect) before they are measured
    layout["map"] = map_layout(fig, ax, scene)
    layout["overlays"] = [bbox_px(fig, o) for o in overlays if o is not None]
    layout["hidden"] = [{"unit": u, "bbox": bbox_px(fig, h), "vmin": vmin, "vmax": vmax, "cmap": HIDDEN_CMAP}
                        for h, u, vmin, vmax in panels]
    layout["image"] = list(fig.canvas.get_width_height())
    return fig, layout


def plot_animation(a, ml, scene, run_dir, tmp):
    import matplotlib.pyplot as plt
    files = checkpoint_files(run_dir) if os.path.isdir(run_dir) else []
    if not files:
        fail(f"--animate {run_dir}: expected a directory with step-*.safetensors checkpoints, found none")
    metrics_path = next((p for p in (a.metrics, os.path.join(run_dir, "metrics.jsonl"),
                                     run_dir.rstrip("/") + ".jsonl") if p and os.path.isfile(p)), None)
    metrics = read_metrics(metrics_path) if metrics_path else []
    inputs = os.path.join(tmp, "inputs.csv")
    scene.write_inputs(inputs)
    infos = [read_checkpoint(p) for p in files]
    for path, info in zip(files, infos):
        if info["model"] != infos[-1]["model"]:
            fail(f"--animate {run_dir}: {os.path.basename(path)} holds another model ({describe_model(info)})")
    if not metrics and scene.loss == "mse":
        fail(f"--animate {run_dir}: a regression run needs its metrics log for the curve "
             "(hint: train with --metrics-out RUN_DIR/metrics.jsonl, or give --metrics FILE)")
    gif = a.output.lower().endswith(".gif")
    # Evenly spaced checkpoints, the first and the last included (--frames 0: all); the
    # others are predicted only when their accuracy stands in for a missing loss curve.
    count = len(files) if a.frames == 0 else min(a.frames, len(files))
    keep = sorted(set(int(k) for k in np.linspace(0, len(files) - 1, count).round()))
    needed = keep if metrics else range(len(files))
    frames = {k: Frame(scene, *ml.predict(files[k], inputs, os.path.join(tmp, "pred.csv"))) for k in needed}
    steps = [i["state"]["step"] for i in infos]
    accuracy = [frames[k].accuracy() for k in range(len(files))] if not metrics else []
    model_text = f"{os.path.basename(a.data)}: {describe_model(infos[-1])}"
    layout = base_layout(scene)
    layout.update({"checkpoints": len(files), "metrics": metrics_path})

    if gif:
        from PIL import Image
        fig = plt.figure(figsize=(8.4, 4.0), dpi=80)
        ax = fig.add_axes([0.07, 0.12, 0.42, 0.72])
        view = MapView(ax, scene, levels=a.levels)
        curve = CurveView(fig.add_axes([0.6, 0.12, 0.37, 0.72]), metrics, steps, accuracy, os.path.basename(a.data))
        title = fig.suptitle("", fontsize=10)
        images = []
        for k in keep:
            info, frame = infos[k], frames[k]
            view.update(frame)
            curve.update(info["state"]["step"])
            acc = f" · accuracy on all rows {frame.accuracy():.3f}" if scene.loss != "mse" else ""
            title.set_text(f"{model_text}\n{describe_progress(info)}{acc}")
            fig.canvas.draw()
            rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
            # An adaptive palette per frame, no dithering: flat areas stay flat (a small file).
            images.append(rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
        # Each frame names its step, so Pillow never merges two frames as identical: one frame
        # per checkpoint shown. The last one stays up longer.
        durations = [a.frame_ms] * (len(images) - 1) + [max(a.frame_ms, 1500)]
        images[0].save(a.output, save_all=True, append_images=images[1:], duration=durations, loop=0)
        layout.update({"frames": len(images), "steps": [steps[k] for k in keep], "map": map_layout(fig, ax, scene),
                       "image": list(fig.canvas.get_width_height())})
        plt.close(fig)
        return None, layout

    n = len(keep)
    fig = plt.figure(figsize=(2.1 * n + 3.4, 2.9), dpi=100)
    outer = fig.add_gridspec(1, 2, width_ratios=[n, 1.6], left=0.015, right=0.95, top=0.78, bottom=0.16, wspace=0.06)
    gs = outer[0].subgridspec(1, n, wspace=0.1)
    axes = []
    for col, k in enumerate(keep):
        ax = fig.add_subplot(gs[col])
        MapView(ax, scene, small=True).update(frames[k])
        acc = f", acc {frames[k].accuracy():.2f}" if scene.loss != "mse" else ""
        ax.set_title(describe_progress(infos[k]).replace(" (", "\n(") + acc, fontsize=7)
        axes.append(ax)
    curve_ax = fig.add_subplot(outer[1])
    curve_ax.yaxis.tick_right()
    curve_ax.yaxis.set_label_position("right")
    CurveView(curve_ax, metrics, steps, accuracy, os.path.basename(a.data)).update(steps[-1])
    for k in keep:
        curve_ax.axvline(steps[k], color="black", lw=0.5, ls=":")
    fig.suptitle(model_text, fontsize=10)
    fig.canvas.draw()
    layout.update({"frames": n, "steps": [steps[k] for k in keep], "maps": [map_layout(fig, ax, scene) for ax in axes],
                   "image": list(fig.canvas.get_width_height())})
    return fig, layout


def save_png(fig, path):
    """The figure as a 256-colour palette PNG: a third of the RGB file's size (the maps are
    smooth gradients), with no visible banding and no dithering noise."""
    try:
        from PIL import Image
    except ImportError:
        fig.savefig(path, dpi=fig.dpi)
        return
    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 usage="%(prog)s MODEL DATA [options]")
    ap.add_argument("model", metavar="MODEL", help="checkpoint file or --checkpoint-dir")
    ap.add_argument("data", metavar="DATA", help="CSV with the model's feature columns and the label column")
    ap.add_argument("-o", "--output", help="PNG (or GIF with --animate) to write "
                    "(default: MODEL/boundary.png, or RUN_DIR/training.gif)")
    ap.add_argument("--hidden", action="store_true", help="add a panel per unit of the first hidden layer")
    ap.add_argument("--hidden-max", type=int, default=16, metavar="N", help="show at most N units (default 16)")
    ap.add_argument("--animate", nargs="?", const="", metavar="RUN_DIR",
                    help="one frame per checkpoint of RUN_DIR (default: MODEL) with the loss curve")
    ap.add_argument("--metrics", metavar="FILE", help="--metrics-out log for --animate's loss curve")
    ap.add_argument("--frames", type=int, metavar="N",
                    help="at most N evenly spaced checkpoints, first and last included (default: every one "
                         "for a GIF, 6 for a strip)")
    ap.add_argument("--frame-ms", type=int, default=150, metavar="MS", help="GIF frame duration (default 150)")
    ap.add_argument("--grid", type=int, metavar="N", help="grid points per axis (default 150; 100 with --animate)")
    ap.add_argument("--levels", type=int, metavar="N",
                    help="shade the map in N confidence steps (default: smooth; GIFs: 8, a smaller file)")
    ap.add_argument("--features", metavar="I,J", help="the two features to draw for a model with more than 2")
    ap.add_argument("--label", metavar="COL", help="label column of DATA: name or 0-based index (default: last)")
    ap.add_argument("--mlptrain", metavar="PATH", help="mlptrain binary (default: build/mlptrain)")
    ap.add_argument("--layout", metavar="FILE.json", help="also write where everything was drawn (for tests)")
    a = ap.parse_args()
    if a.animate is not None:
        run_dir = a.animate or a.model
        a.output = a.output or os.path.join(run_dir, "training.gif")
    elif not a.output:
        a.output = os.path.join(a.model, "boundary.png") if os.path.isdir(a.model) else os.path.splitext(a.model)[0] + ".png"
    if not a.output.lower().endswith((".png", ".gif")) or (a.animate is None and a.output.lower().endswith(".gif")):
        fail(f"--output {a.output}: expected a .png file" + (", or .gif with --animate" if a.animate is None else " or a .gif file"))
    # Animations make one predict call and one picture per checkpoint: a coarser grid and
    # banded shading keep them quick and the GIF small.
    a.grid = a.grid or (100 if a.animate is not None else 150)
    if a.levels is None:
        a.levels = 8 if a.animate is not None and a.output.lower().endswith(".gif") else 0
    if not 2 <= a.grid <= 1000:
        fail(f"--grid: expected 2 to 1000 points per axis, found {a.grid}")
    if a.frames is None:
        a.frames = 0 if a.output.lower().endswith(".gif") else 6
    if a.hidden_max < 1 or a.frame_ms < 1 or a.frames < 0 or a.levels < 0:
        fail("--hidden-max, --frame-ms: expected positive integers; --frames, --levels: 0 or more")
    ml = Mlptrain(find_mlptrain(a.mlptrain))
    model = resolve_checkpoint(a.model)
    info = read_checkpoint(model)
    names, x, y = read_data(a.data, a.label)
    scene = Scene(a, info, names, x, y)
    # matplotlib draws; Pillow writes GIFs and palette PNGs (Debian's matplotlib depends on
    # it). Imported only now: it takes a second or more, and bad input fails before that.
    for module in ("matplotlib", "PIL") if a.output.lower().endswith(".gif") else ("matplotlib",):
        if importlib.util.find_spec(module) is None:
            fail(f"Python module {module} is missing for {sys.executable} (hint: scripts/setup.sh --with plots, "
                 "then run the script with /usr/bin/python3)", 1)
    import matplotlib
    matplotlib.use("Agg")
    with tempfile.TemporaryDirectory(prefix="plot_boundary.") as tmp:
        if a.animate is not None:
            fig, layout = plot_animation(a, ml, scene, run_dir, tmp)
        else:
            fig, layout = plot_still(a, ml, scene, model, info, tmp)
    if fig is not None:
        save_png(fig, a.output)
    if a.layout:
        with open(a.layout, "w") as f:
            json.dump(layout, f, indent=1)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
