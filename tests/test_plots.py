#!/usr/bin/env python3
"""Tests of scripts/plot_boundary.py that read the pictures back: models trained by the real
binary, pictures rendered, then pixels decoded and compared with what `mlptrain predict`
says at the same points (the map's class and shade, each hidden unit's activation), the
panels and GIF frames counted, the misclassified points found ringed.

usage: test_plots.py MLPTRAIN SOURCE_DIR   (CTest runs it; exit 77 = skipped)

plot_boundary.py --layout FILE.json says where it drew each map (pixel box and data
limits) and which colours it used; everything else is read from the PNG or GIF itself.
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import colormaps
    from PIL import Image, ImageSequence
except ImportError as e:  # CTest reports 77 as "skipped" (SKIP_RETURN_CODE)
    print(f"skipped: Python module {e.name} is missing (python3-numpy, python3-matplotlib, python3-pil: "
          "scripts/setup.sh --with plots)")
    sys.exit(77)

MLPTRAIN, SOURCE = sys.argv[1], sys.argv[2]
PLOT = os.path.join(SOURCE, "scripts", "plot_boundary.py")
DATA = os.path.join(SOURCE, "data")
TMP = tempfile.TemporaryDirectory(prefix="test_plots.")


def run(args, expect=0):
    r = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and r.returncode != expect:
        raise AssertionError(f"{' '.join(args)}: exit {r.returncode}, expected {expect}\n{r.stdout}{r.stderr}")
    return r


def train(name, data, flags):
    """A run into TMP/name (checkpoints and metrics log); returns (dir, train's stdout)."""
    d = os.path.join(TMP.name, name)
    out = run([MLPTRAIN, "train", "--data", data, "--checkpoint-dir", d, "--metrics-out",
               os.path.join(d, "metrics.jsonl"), "--quiet", *flags.split()]).stdout
    return d, out


def plot(model, data, output, *flags, expect=0):
    """Renders with --layout; returns (layout, image as float RGB in [0, 1], the run)."""
    layout_path = output + ".json"
    r = run([sys.executable, PLOT, model, data, "--output", output, "--layout", layout_path,
             "--mlptrain", MLPTRAIN, *flags], expect=expect)
    if expect != 0:
        return None, None, r
    with open(layout_path) as f:
        layout = json.load(f)
    return layout, rgb(Image.open(output)), r


def rgb(image):
    return np.asarray(image.convert("RGB"), dtype=float) / 255.0


def predict(model, points, names=("x1", "x2"), activations=None):
    """mlptrain's own answer at `points`: (header, rows of text)."""
    src, out = os.path.join(TMP.name, "probe.csv"), os.path.join(TMP.name, "probe.out.csv")
    with open(src, "w") as f:
        f.write(",".join(names) + "\n")
        np.savetxt(f, points, fmt="%.9g", delimiter=",")
    args = [MLPTRAIN, "predict", "--model", model, "--data", src, "--output", out]
    run(args + (["--activations", str(activations)] if activations else []))
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def read_points(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return np.array([[float(v) for v in r[:-1]] for r in rows[1:]]), [r[-1] for r in rows[1:]]


def to_pixel(box, x, y):
    """Data coordinates → (row, column) of the pixel, for a map box from the layout."""
    left, top, right, bottom = box["bbox"]
    (x0, x1), (y0, y1) = box["xlim"], box["ylim"]
    col = left + (x - x0) / (x1 - x0) * (right - left)
    row = bottom - (y - y0) / (y1 - y0) * (bottom - top)
    return int(row), int(col)


def cell_centres(box, grid, margin=2):
    """Centres of the grid cells the map was computed on, away from the box's edges."""
    (x0, x1), (y0, y1) = box["xlim"], box["ylim"]
    gx = x0 + (np.arange(grid) + 0.5) * (x1 - x0) / grid
    gy = y0 + (np.arange(grid) + 0.5) * (y1 - y0) / grid
    return np.array([(x, y) for x in gx[margin:-margin] for y in gy[margin:-margin]])


def decode_class(pixel, layout):
    """The class whose shade (white → class colour × strength) the pixel lies on, its
    strength, and the distance from that line; (None, 0, d) when it is on none."""
    best = (None, 0.0, 1e9)
    for c, color in enumerate(layout["class_colors"]):
        direction = -(1.0 - np.array(color)) * layout["map_strength"]  # white + s·direction, s in [0, 1]
        s = float(np.clip(np.dot(pixel - 1.0, direction) / np.dot(direction, direction), 0.0, 1.0))
        d = float(np.linalg.norm(pixel - (1.0 + s * direction)))
        if d < best[2]:
            best = (c, s, d)
    return best if best[2] < 0.04 else (None, 0.0, best[2])


def inside(box, row, col, pad=0):
    left, top, right, bottom = box
    return left - pad <= col <= right + pad and top - pad <= row <= bottom + pad


class MapCheck:
    """Samples a map where mlptrain is sure of the class (p ≥ 0.9 there and a little around)
    and no data point or overlay is drawn; every sample must show that class's shade."""

    def __init__(self, test, layout, image, model, data_points, box=None):
        self.test, self.layout, self.image = test, layout, image
        box = box or layout["map"]
        grid = layout["grid"]
        centres = cell_centres(box, grid)[::7]  # a sparse sample of cell centres
        (x0, x1), (y0, y1) = box["xlim"], box["ylim"]
        span = np.array([x1 - x0, y1 - y0])
        # Far from every data point (markers) in the picture's proportions.
        far = np.array([np.min(np.abs((data_points - p) / span).max(axis=1)) > 0.04 for p in centres])
        centres = centres[far]
        # mlptrain's probabilities at each centre and at four neighbours 1.5% of the span away.
        offsets = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]) * 0.015 * span
        points = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
        header, rows = predict(model, points)
        prob = np.array([[float(v) for v in r[1:]] for r in rows]).reshape(len(centres), 5, -1)
        winner = prob[:, 0, :].argmax(axis=1)
        sure = (prob.max(axis=2) >= 0.9).all(axis=1) & (prob.argmax(axis=2) == winner[:, None]).all(axis=1)
        self.samples = []
        for (x, y), c, ok in zip(centres, winner, sure):
            row, col = to_pixel(box, x, y)
            if ok and not any(inside(o, row, col, pad=4) for o in layout.get("overlays", [])):
                self.samples.append((x, y, int(c), image[row, col]))

    def check(self, classes=2, at_least=5):
        seen, wrong = {}, []
        for x, y, c, pixel in self.samples:
            got, strength, distance = decode_class(pixel, self.layout)
            # A sure prediction is drawn in its class's shade, and a strong one.
            if got != c or strength < 0.5:
                wrong.append(f"({x:.3f}, {y:.3f}): mlptrain class {c}, pixel {np.round(pixel, 3)} "
                             f"decodes as {got} at strength {strength:.2f} (distance {distance:.3f})")
            seen[c] = seen.get(c, 0) + 1
        if wrong:
            self.test.fail(f"{len(wrong)} of {len(self.samples)} samples show another class, e.g.\n" + "\n".join(wrong[:5]))
        # Both sides of the boundary were sampled, each several times.
        self.test.assertEqual(len(seen), classes, f"classes sampled: {seen}")
        self.test.assertGreaterEqual(min(seen.values()), at_least, f"samples per class: {seen}")


def dark_ring(image, row, col, r_in=4, r_out=8):
    """Whether black (the misclassified mark) appears in an annulus around a pixel."""
    rows, cols = np.ogrid[-r_out:r_out + 1, -r_out:r_out + 1]
    ring = (rows ** 2 + cols ** 2 >= r_in ** 2) & (rows ** 2 + cols ** 2 <= r_out ** 2)
    patch = image[row - r_out:row + r_out + 1, col - r_out:col + r_out + 1]
    return bool((patch[ring].sum(axis=1) < 0.5).any())


class Plots(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moons_data = os.path.join(DATA, "moons.csv")
        cls.moons, cls.moons_out = train("moons", cls.moons_data,
                                         "--layers 8,8 --activation tanh --optimizer adam --lr 0.01 "
                                         "--weight-decay 0 --epochs 40")
        cls.points, cls.labels = read_points(cls.moons_data)
        # The plain picture that several tests read.
        cls.still = plot(cls.moons, cls.moons_data, os.path.join(TMP.name, "moons.png"))
        # Every checkpoint kept: 14 steps an epoch, 56 in all, so every 10th step and the
        # epoch ends 14, 28, 42, 56: 9 files.
        cls.run_dir, _ = train("anim", cls.moons_data, "--layers 8,8 --activation tanh --optimizer adam --lr 0.01 "
                               "--weight-decay 0 --epochs 4 --checkpoint-every 10 --keep-checkpoints 0")

    # The map shows mlptrain's class on both sides of the boundary, in the data's units.
    def test_boundary_colours_match_predictions(self):
        layout, image, _ = self.still
        self.assertEqual(layout["mode"], "class")
        self.assertEqual(layout["classes"], ["lower", "upper"])
        MapCheck(self, layout, image, self.moons, self.points).check()
        self.assertLess(os.path.getsize(os.path.join(TMP.name, "moons.png")), 150_000)

    # The title names the model, the epoch and the test accuracy that train printed.
    def test_title_has_model_epoch_and_test_accuracy(self):
        layout = self.still[0]
        accuracy, rows = re.search(r"test: loss [0-9.]+  accuracy ([0-9.]+)  \((\d+) rows\)", self.moons_out).groups()
        self.assertIn("2-8-8-2 tanh cross_entropy", layout["title"])
        self.assertIn("epoch 40 (step 560)", layout["title"])
        self.assertRegex(layout["title"], rf"test accuracy {re.escape(accuracy)} \(\d+ of {rows}\)")

    # Misclassified points (as many as evaluate counts) are ringed in black; sure, isolated
    # correct ones are not.
    def test_misclassified_points_are_ringed(self):
        layout, image, _ = self.still
        ev = run([MLPTRAIN, "evaluate", "--model", self.moons, "--data", self.moons_data]).stdout
        correct, total = map(int, re.search(r"accuracy [0-9.]+ \((\d+) of (\d+) rows\)", ev).groups())
        self.assertEqual(layout["misclassified"], total - correct)
        header, rows = predict(self.moons, self.points)
        wrong = np.array([r[0] != t for r, t in zip(rows, self.labels)])
        self.assertEqual(int(wrong.sum()), total - correct)
        span = np.ptp(self.points, axis=0)
        unmarked = [tuple(p) for p in self.points[wrong] if not dark_ring(image, *to_pixel(layout["map"], *p))]
        self.assertEqual(unmarked, [], "misclassified points without a black ring")
        # Correct points far (in the picture) from every wrong one and from the boundary.
        prob = np.array([[float(v) for v in r[1:]] for r in rows]).max(axis=1)
        lonely = [p for p, w, q in zip(self.points, wrong, prob)
                  if not w and q > 0.99 and np.all(np.abs((self.points[wrong] - p) / span).max(axis=1) > 0.08)]
        self.assertGreater(len(lonely), 50)
        ringed = sum(dark_ring(image, *to_pixel(layout["map"], *p)) for p in lonely)
        self.assertLessEqual(ringed, len(lonely) // 20)  # the boundary line may pass near a few

    # --hidden: one panel per unit (all 8 here), each showing that unit's activation from
    # `predict --activations 1` in the documented colour scale. A coarse grid makes each
    # cell a few pixels wide; a sampled pixel must show the colour of its cell or of a
    # neighbouring one (pixel rounding at cell edges).
    def test_hidden_panels_show_each_units_activation(self):
        layout, image, _ = plot(self.moons, self.moons_data, os.path.join(TMP.name, "hidden.png"), "--hidden",
                                "--grid", "50")
        self.assertEqual([p["unit"] for p in layout["hidden"]], list(range(8)))
        self.assertEqual(layout["units_total"], 8)
        cmap = colormaps[layout["hidden"][0]["cmap"]]
        grid = layout["grid"]
        (x0, x1), (y0, y1) = layout["map"]["xlim"], layout["map"]["ylim"]
        step = np.array([(x1 - x0) / grid, (y1 - y0) / grid])
        around = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]) * step
        # The same cells in every panel (each panel spans the map's ranges): one predict call.
        centres = cell_centres({"xlim": [x0, x1], "ylim": [y0, y1]}, grid, margin=1)[::11]
        header, rows = predict(self.moons, (centres[:, None, :] + around[None]).reshape(-1, 2), activations=1)
        self.assertEqual(header, [f"h1_{u}" for u in range(8)])
        for panel in layout["hidden"]:
            box = {"bbox": panel["bbox"], "xlim": [x0, x1], "ylim": [y0, y1]}
            values = np.array([float(r[panel["unit"]]) for r in rows]).reshape(len(centres), len(around))
            expected = cmap((values - panel["vmin"]) / (panel["vmax"] - panel["vmin"]))[..., :3]
            errors = [np.abs(image[to_pixel(box, x, y)] - e).max(axis=1).min()
                      for (x, y), e in zip(centres, expected)]
            with self.subTest(unit=panel["unit"]):
                self.assertGreater(len(errors), 100)
                self.assertLess(float(np.max(errors)), 0.06)  # the PNG's 256-colour palette
        self.assertLess(os.path.getsize(os.path.join(TMP.name, "hidden.png")), 150_000)

    # --hidden-max N shows the first N units and says how many there are.
    def test_hidden_max_limits_the_panels(self):
        layout, image, _ = plot(self.moons, self.moons_data, os.path.join(TMP.name, "hidden3.png"),
                                "--hidden", "--hidden-max", "3")
        self.assertEqual([p["unit"] for p in layout["hidden"]], [0, 1, 2])
        self.assertEqual(layout["units_total"], 8)
        # Each panel box holds a picture (not background): many distinct colours.
        for panel in layout["hidden"]:
            left, top, right, bottom = (int(v) for v in panel["bbox"])
            patch = image[top + 2:bottom - 2, left + 2:right - 2].reshape(-1, 3)
            self.assertGreater(len(np.unique(patch.round(2), axis=0)), 20)

    # --animate: one GIF frame per checkpoint; the last frame shows the final model's classes
    # and the first one a different picture.
    def test_gif_has_one_frame_per_checkpoint(self):
        run_dir = self.run_dir
        checkpoints = [n for n in os.listdir(run_dir) if n.endswith(".safetensors")]
        self.assertEqual(len(checkpoints), 9)
        gif = os.path.join(TMP.name, "anim.gif")
        layout, _, _ = plot(run_dir, self.moons_data, gif, "--animate")
        frames = [rgb(f) for f in ImageSequence.Iterator(Image.open(gif))]
        self.assertEqual(len(frames), len(checkpoints))
        self.assertEqual(layout["frames"], len(checkpoints))
        self.assertEqual(layout["metrics"], os.path.join(run_dir, "metrics.jsonl"))
        MapCheck(self, layout, frames[-1], run_dir, self.points).check()
        left, top, right, bottom = (int(v) for v in layout["map"]["bbox"])
        change = np.abs(frames[0][top:bottom, left:right] - frames[-1][top:bottom, left:right]).mean()
        self.assertGreater(change, 0.01)

    # A .png with --animate is a strip of evenly spaced frames (6 by default).
    def test_strip_of_frames(self):
        layout, image, _ = plot(self.run_dir, self.moons_data, os.path.join(TMP.name, "strip.png"), "--animate")
        self.assertEqual(layout["frames"], 6)
        self.assertEqual(len(layout["maps"]), 6)
        self.assertEqual(layout["steps"][0], 10)
        self.assertEqual(layout["steps"][-1], 56)
        MapCheck(self, layout, image, self.run_dir, self.points, box=layout["maps"][-1]).check(at_least=3)

    # bce: the map shades by P(positive class), the same class colours on both sides.
    def test_bce_probability_map(self):
        data = os.path.join(DATA, "circles.csv")
        model, _ = train("circles", data, "--layers 8 --activation tanh --optimizer adam --lr 0.03 "
                         "--weight-decay 0 --epochs 40 --loss bce")
        layout, image, _ = plot(model, data, os.path.join(TMP.name, "circles.png"))
        self.assertEqual(layout["mode"], "probability")
        MapCheck(self, layout, image, model, read_points(data)[0]).check()

    # More than 2 features: a clear refusal, or the projection that --features asks for.
    # The run has no test rows: the title then says what its accuracy is instead (all of
    # DATA, as predict classifies it), as it does when the run's data file is not found.
    def test_more_than_two_features(self):
        data = os.path.join(DATA, "iris.csv")
        model, _ = train("iris", data, "--epochs 30 --test-fraction 0")
        _, _, r = plot(model, data, os.path.join(TMP.name, "iris.png"), expect=2)
        self.assertIn("the model has 4 input features", r.stderr)
        self.assertIn("--features I,J", r.stderr)
        layout, image, r = plot(model, data, os.path.join(TMP.name, "iris.png"),
                                "--features", "petal_length,petal_width")
        self.assertEqual(layout["features"], ["petal_length", "petal_width"])
        self.assertEqual(len(layout["overlays"]), 2)  # the legend and the note on the held features
        self.assertEqual(layout["classes"], ["setosa", "versicolor", "virginica"])
        self.assertRegex(layout["title"], r"accuracy on all 150 rows of iris\.csv 0\.\d{4}$")
        self.assertNotIn("test accuracy", layout["title"])
        self.assertIn("no test accuracy", r.stderr)

    # Regression: the map's colour is mlptrain's predicted value on the documented scale.
    def test_regression_value_map(self):
        rng = np.random.RandomState(5)
        x = rng.uniform(-2, 2, size=(80, 2))
        data = os.path.join(TMP.name, "plane.csv")
        with open(data, "w") as f:
            f.write("x1,x2,y\n")
            np.savetxt(f, np.column_stack([x, x[:, 0] - 0.5 * x[:, 1]]), fmt="%.5f", delimiter=",")
        model, _ = train("plane", data, "--layers 8 --loss mse --optimizer adam --lr 0.01 --weight-decay 0 --epochs 60")
        layout, image, _ = plot(model, data, os.path.join(TMP.name, "plane.png"))
        self.assertEqual(layout["mode"], "value")
        box = layout["map"]
        centres = cell_centres(box, layout["grid"])[::53]
        span = np.array([np.ptp(box["xlim"]), np.ptp(box["ylim"])])
        centres = centres[[np.min(np.abs((x - p) / span).max(axis=1)) > 0.04 for p in centres]]
        header, rows = predict(model, centres)
        values = np.array([float(r[0]) for r in rows])
        targets = x[:, 0] - 0.5 * x[:, 1]
        lut = colormaps["viridis"](np.linspace(0, 1, 256))[:, :3]
        lo, hi = float(np.round(targets, 5).min()), float(np.round(targets, 5).max())
        for (px, py), v in zip(centres, values):
            pixel = image[to_pixel(box, px, py)]
            decoded = lo + (hi - lo) * np.argmin(np.abs(lut - pixel).sum(axis=1)) / 255
            self.assertAlmostEqual(decoded, float(np.clip(v, lo, hi)), delta=(hi - lo) / 40,
                                   msg=f"at ({px:.3f}, {py:.3f})")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
