#!/usr/bin/env python3
"""Turns package-benchmark's markdown output into one line per benchmark: median throughput in the benchmark's
own unit (elements/s for the 1M-element ops, GFLOP/s for GEMM). Usage:
  swift package --allow-writing-to-package-directory benchmark --no-progress --format markdown | python3 summarize.py
"""
import re
import sys

text = sys.stdin.read()
scale = {"#": 1, "K": 1e3, "M": 1e6, "G": 1e9}
for block in re.split(r"\n(?=### )", text):
    head = re.match(r"### (.+)", block)
    row = re.search(r"\| Throughput \(# / s\) \(([^)]+)\)\s*\|([^\n]*)", block)
    if not head or not row:
        continue
    name = head.group(1).strip()
    cells = [c.strip() for c in row.group(2).split("|")]
    median = float(cells[2]) * scale.get(row.group(1), 1)  # columns: p0 p25 p50 ...
    # Throughput is reported in whole iterations per second: for slow iterations (20 training steps) take the median
    # wall-clock time instead, which keeps its digits.
    wall = re.search(r"\| Time \(wall clock\) \((ns|us|μs|ms|s)\)[^|]*\|([^\n]*)", block)
    if wall:
        seconds = float([c.strip() for c in wall.group(2).split("|")][2]) * {"ns": 1e-9, "us": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1}[wall.group(1)]
        if seconds > 0:
            median = 1 / seconds
    gemm = re.search(r"gemm (\d+)x(\d+)x(\d+)", name)
    if gemm:
        m, k, n = map(int, gemm.groups())
        print(f"{name:40s} {median * 2 * m * n * k / 1e9:10.1f} GFLOP/s")
    elif re.search(r"train \d+ steps", name):
        steps = int(re.search(r"train (\d+) steps", name).group(1))
        batch = int(name.rsplit(" ", 1)[1])
        print(f"{name:48s} {median * steps * batch:10.0f} images/s")
    elif "family " in name:
        rows, cols = map(int, re.search(r"(\d+)x(\d+)$", name).groups())
        print(f"{name:48s} {median * rows * cols / 1e6:10.1f} M elements/s")
    elif "1M" in name:
        print(f"{name:40s} {median * (1 << 20) / 1e6:10.0f} M elements/s")
    else:
        print(f"{name:40s} {median:10.0f} ops/s")
