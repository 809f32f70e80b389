"""Benchmark of nnlib.conv: naive loops, the vectorised layer, and PyTorch's CPU conv2d, forward + backward.

Usage::

    python tests/benchmarks/bench_conv.py [--repeats R] [--naive-batch N]

For each size: warm up, then time in rounds, alternating the order of the contenders from one round to the
next and sleeping 0.2 s before every timed region (OpenBLAS's worker threads spin for about 0.1 s after a
call and slow whatever runs next; COURSE.md section 6). Prints the median and best time of each contender,
the median of the per-round ratios nnlib/torch, and last the median of that ratio over the three sizes. On a
machine shared with other work, the best times are the steadier figures. Everything is
float64; PyTorch (if importable) runs forward + backward of ``sum(out * dout)`` with autograd at its default
thread count. The naive loops are timed on a reduced batch and scaled linearly to the full one (their cost
is linear in N), which the output says. Not collected by pytest; nothing here is asserted.
"""

import argparse
import os
import platform
import statistics

import numpy as np
from timing import timed

from nnlib import conv
from nnlib.gradcheck import rel_error

try:
    import torch
except ImportError:  # the benchmark still compares nnlib with its naive loops
    torch = None

# (N, C, H, W, F, KH, KW, pad, stride)
SIZES = [
    (64, 3, 32, 32, 16, 3, 3, 1, 1),
    (64, 16, 16, 16, 32, 3, 3, 1, 1),
    (128, 1, 28, 28, 8, 5, 5, 0, 1),
]
#: The small CNN of nnlib.model trains on images like these; reported, not part of the median.
EXTRA_SIZES = [(64, 8, 16, 16, 16, 3, 3, 1, 1)]


def describe_blas():
    lines = [f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs"]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        lines.append(f"{var}={os.environ.get(var, '(unset)')}")
    try:
        import threadpoolctl

        for pool in threadpoolctl.threadpool_info():
            lines.append(
                f"{pool['internal_api']} {pool.get('version')} kernel={pool.get('architecture')} "
                f"threads={pool['num_threads']} ({os.path.basename(pool['filepath'])})"
            )
    except ImportError:
        lines.append("(install threadpoolctl to see which BLAS kernel numpy runs)")
    if torch is not None:
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads (default)")
    else:
        lines.append("torch not importable: PyTorch is not timed")
    return "\n".join(lines)


def bench_size(size, repeats, naive_batch, rng):
    n, c, h, w, f, kh, kw, pad, stride = size
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    out, _ = conv.conv2d_forward(x, wt, b, stride=stride, pad=pad)
    dout = rng.standard_normal(out.shape)

    def run_nnlib():
        out, cache = conv.conv2d_forward(x, wt, b, stride=stride, pad=pad)
        return out, conv.conv2d_backward(dout, cache)

    contenders = {"nnlib": run_nnlib}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
        tdout = torch.tensor(dout)

        def run_torch():
            tx.grad = tw.grad = tb.grad = None
            tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
            (tout * tdout).sum().backward()
            return tout, (tx.grad, tw.grad, tb.grad)

        contenders["torch"] = run_torch
        # the two must agree before their times mean anything
        (o1, g1), (o2, g2) = run_nnlib(), run_torch()
        errors = [rel_error(a, t.detach().numpy()) for a, t in zip((o1, *g1), (o2, *g2))]
        if max(errors) > 1e-9:
            raise AssertionError(f"nnlib and torch disagree on {size}: relative errors {errors}")

    for fn in contenders.values():  # warm-up
        fn()
        fn()
    times = {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(timed(contenders[name]))

    # naive loops on a reduced batch, scaled to the full one
    nb = min(naive_batch, n)
    xs = x[:nb]

    def run_naive():
        out, cache = conv.conv2d_forward_naive(xs, wt, b, stride=stride, pad=pad)
        conv.conv2d_backward_naive(dout[:nb], cache)

    run_naive()
    naive_times = [timed(run_naive) * n / nb for _ in range(max(1, repeats // 3))]
    naive, naive_best = statistics.median(naive_times), min(naive_times)

    label = f"N={n} C={c} {h}x{w} F={f} {kh}x{kw} pad={pad} stride={stride}"
    med = {name: statistics.median(ts) for name, ts in times.items()}
    best = {name: min(ts) for name, ts in times.items()}
    print(f"{label}  (float64, forward + backward, {repeats} rounds; median / best)")
    scaled = f"timed on N={nb}, scaled x{n / nb:g}" if nb < n else "full batch"
    print(
        f"  naive loops     {naive * 1e3:10.1f} / {naive_best * 1e3:.1f} ms  ({scaled}); naive / nnlib = "
        f"{naive / med['nnlib']:.0f}x (medians), {naive_best / best['nnlib']:.0f}x (best times)"
    )
    print(f"  nnlib           {med['nnlib'] * 1e3:10.2f} / {best['nnlib'] * 1e3:.2f} ms")
    ratio = best_ratio = None
    if "torch" in med:
        ratios = [a / t for a, t in zip(times["nnlib"], times["torch"])]
        ratio, best_ratio = statistics.median(ratios), best["nnlib"] / best["torch"]
        print(f"  torch           {med['torch'] * 1e3:10.2f} / {best['torch'] * 1e3:.2f} ms")
        print(
            f"  nnlib / torch   {ratio:10.2f}   (median of per-round ratios; range {min(ratios):.2f}-{max(ratios):.2f};"
            f" ratio of the best times {best_ratio:.2f})"
        )
    return ratio, best_ratio, naive_best / best["nnlib"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per size (default 9)")
    parser.add_argument("--naive-batch", type=int, default=4, help="batch size for the naive loops (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(describe_blas())
    print()
    ratios, best_ratios, speedups = [], [], []
    for size in SIZES:
        ratio, best_ratio, speedup = bench_size(size, args.repeats, args.naive_batch, rng)
        ratios.append(ratio)
        best_ratios.append(best_ratio)
        speedups.append(speedup)
    for size in EXTRA_SIZES:
        print("(model-sized images, not in the median)")
        bench_size(size, args.repeats, args.naive_batch, rng)
    print()
    print(f"smallest naive / nnlib speed-up over the three sizes (best times): {min(speedups):.0f}x (target >= 100x)")
    if torch is not None:
        print(f"(ratio of the best times, median over the three sizes: {statistics.median(best_ratios):.2f})")
        print(f"median over the three sizes of nnlib / torch: {statistics.median(ratios):.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
