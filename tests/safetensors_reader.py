#!/usr/bin/env python3
"""Reads an mlptrain checkpoint (a safetensors file) with nothing but json, struct and NumPy.

usage: safetensors_reader.py FILE [--verify]

Prints each tensor's name, shape and sum. With --verify it also checks the CRC-32C checksums
mlptrain keeps in __metadata__: "checksums" (tensor name -> 8 hex digits, over the tensor's
bytes) and "header_checksum" (over the header re-serialized compactly with sorted keys,
header_checksum itself left out).
"""
import json
import struct
import sys

import numpy as np


def _crc_table_entry(byte):
    for _ in range(8):
        byte = (byte >> 1) ^ (0x82F63B78 if byte & 1 else 0)  # Castagnoli, reflected
    return byte


CRC_TABLE = [_crc_table_entry(b) for b in range(256)]


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def check(path, what, data, expected_hex):
    actual = f"{crc32c(data):08x}"
    if actual != expected_hex:
        sys.exit(f"{path}: {what}: checksum {actual}, expected {expected_hex}")


def main():
    path, verify = sys.argv[1], "--verify" in sys.argv[2:]
    with open(path, "rb") as f:
        blob = f.read()
    (header_size,) = struct.unpack("<Q", blob[:8])  # little-endian uint64
    header = json.loads(blob[8 : 8 + header_size])  # trailing spaces are valid JSON whitespace
    data = blob[8 + header_size :]  # tensor offsets count from here
    metadata = header.pop("__metadata__", {})

    if verify:
        unsealed = {k: v for k, v in metadata.items() if k != "header_checksum"}
        canonical = json.dumps({**header, "__metadata__": unsealed}, sort_keys=True,
                               separators=(",", ":"), ensure_ascii=False)
        check(path, "header", canonical.encode("utf-8"), metadata["header_checksum"])
        checksums = json.loads(metadata["checksums"])

    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        if verify:
            check(path, name, data[begin:end], checksums[name])
        print(name, tuple(array.shape), float(array.sum(dtype=np.float64)))
    if verify:
        print(f"verified {len(header)} tensor checksums and the header checksum")


if __name__ == "__main__":
    main()
