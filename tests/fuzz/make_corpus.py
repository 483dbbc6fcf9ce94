#!/usr/bin/env python3
"""Writes the libFuzzer seed corpus tests/fuzz/corpus/<target>/ (small, deterministic files;
committed, and rewritten only when this script changes). Standard library only.
Usage: tests/fuzz/make_corpus.py"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- CSV: the dialects the loader accepts and the errors it names; the last byte picks
# the mode in fuzz_csv (see there), so some seeds end in each mode's byte.
csv = {
    "iris_head.csv": "sepal_length,sepal_width,petal_length,petal_width,species\n"
                     "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
                     "6.3,3.3,6.0,2.5,virginica\n",
    "crlf_bom.csv": "\ufeffa,b,label\r\n1,2,x\r\n3,4,y\r\n",
    "cr_only.csv": "a,b,label\r1,2,x\r3,4,y\r",
    "quoted.csv": 'a,"b, c",label\n1,2,"say ""hi"""\n3,4,"two\nlines"\n5,6,x\n',
    "regression.csv": "x1,x2,b\n1,2,0.5\n3,4,-1.25\n5,6,1e3\n\x01",
    "numeric_labels.csv": "a,label\n1,10\n2,2\n3,1\n4,-3.5\n",
    "label_first.csv": "label,f1,f2\nb,1,2\na,3,4\n\x03",
    "blank_lines.csv": "a,b\n1,p\n\n2,q\n\n\n",
    "ragged.csv": "a,b,c\n1,2,x\n1,2\n",
    "nan_inf.csv": "a,b,label\n1,nan,x\n2,-Infinity,y\n3,1e39,x\n4,+5,y\n",
    "unterminated.csv": 'a,b\n1,"x\n2,y\n',
    "no_label.csv": "a,b,c\n1,2,3\n4,5,6\n\x02",
    "empty.csv": "",
}
for name, text in csv.items():
    write("fuzz_csv", name, text)


# ---- IDX: big-endian dims after 0x00 0x00 type ndims.
def idx(type_, dims, payload):
    return bytes([0, 0, type_, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


images = idx(8, [3, 2, 2], bytes(range(12)))
labels = idx(8, [3], bytes([0, 1, 2]))
flat = idx(8, [2, 5], bytes(range(10)))
for target in ("fuzz_idx", "fuzz_idx_gzip"):
    write(target, "images3.idx", images)
    write(target, "labels3.idx", labels)
    write(target, "flat2.idx", flat)
    write(target, "float_type.idx", idx(0x0D, [1, 1], b"\0\0\0\0"))
    write(target, "truncated.idx", images[:-3])
# gzip seeds only for the raw target (fuzz_idx_gzip compresses its input itself); mtime=0
# keeps the bytes reproducible.
write("fuzz_idx", "images3.idx.gz", gzip.compress(images, mtime=0))
write("fuzz_idx", "labels3.idx.gz", gzip.compress(labels, mtime=0))
write("fuzz_idx", "two_members.idx.gz", gzip.compress(images[:8], mtime=0) + gzip.compress(images[8:], mtime=0))


# ---- safetensors, as mlptrain writes them (checksums included), so mutations start past
# the header checks.
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def safetensors(tensors):
    header, checksums, blob = {}, {}, b""
    for name, shape, values in tensors:
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        checksums[name] = "%08x" % crc32c(data)
        blob += data
    meta = {"format_version": "1", "checksums": json.dumps(checksums, separators=(",", ":"), sort_keys=True)}
    header["__metadata__"] = meta
    canonical = json.dumps(header, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    meta["header_checksum"] = "%08x" % crc32c(canonical.encode())
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


write("fuzz_safetensors", "two_tensors.safetensors",
      safetensors([("w", [2, 2], [1.0, 2.0, 3.0, 4.0]), ("b", [2], [0.5, -0.5])]))
write("fuzz_safetensors", "empty_tensor.safetensors", safetensors([("e", [0, 3], [])]))
write("fuzz_safetensors", "no_tensors.safetensors", safetensors([]))

# ---- config files (library parser: parse_config_text, config_from_text).
configs = {
    "basic.cfg": "# a run\nepochs = 5\nlr = 0.1\nlayers = 8,4\nnesterov = true\n",
    "saved.cfg": "data = x.csv\nvalidation-fraction = 0.10000000000000001\nno-standardize = false\n"
                 "layers = 64,32\nactivation = relu\nloss = cross_entropy\nepochs = 1\nseed = 1\n",
    "errors.cfg": "epochs = abc\nbogus = 1\nquiet\n[section]\n",
    "schedule.cfg": "schedule = step\nlr-step-epochs = 2\nlr-gamma = 0.5\noptimizer = adam\n",
}
for name, text in configs.items():
    write("fuzz_config", name, text)

# ---- command lines (arguments separated by NUL bytes).
cli = {
    "basic.args": ["--data", "x.csv", "--epochs", "3", "--layers", "16,8", "--lr", "0.1"],
    "equals.args": ["--data=x.csv", "--optimizer=adamw", "--weight-decay=0.1", "--threads=2"],
    "resume.args": ["--resume", "ck", "--quiet", "--verbose"],
    "split.args": ["--train-data", "a.idx", "--test-data", "b.idx", "--max-rows", "100"],
    "bad.args": ["--data", "x", "--epochs", "99999999999999999999", "--nesterov=1", "--help"],
}
for name, args in cli.items():
    write("fuzz_cli", name, "\0".join(args))
