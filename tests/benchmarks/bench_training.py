"""Training-speed benchmarks of nnlib, side by side with PyTorch when it is importable.

    python tests/benchmarks/bench_training.py [--quick] [--only rnn,mlp,cnn]

(a) RNN forward + BPTT, N=32, T=50, D=64, H=128: ``rnn_forward`` + ``rnn_backward`` against the same
    recurrence written as a loop in PyTorch with autograd (input projection hoisted out of the loop,
    as nnlib does, and the plain per-step cell), float64 and float32.
(b) One epoch of a 784-256-10 ReLU MLP, softmax cross-entropy, SGD, batch 128, on 60,000 random
    float32 samples: ``nnlib.model.train`` against the usual PyTorch loop; plus this machine's float32
    GEMM rate at the layer's sizes and the fraction of it the nnlib epoch reaches.
(c) A small CNN on the shipped digits, trained until 95% test accuracy (target: under 60 s on 2 cores).

Timing: every contender runs once untimed (warm-up), then the contenders alternate, each timed
region preceded by a 0.2 s pause (OpenBLAS worker threads spin for ~0.1 s after a call and slow
whatever runs next); reported are medians of times and the median of the per-round ratios
nnlib / torch (below 1: nnlib faster). ``OPENBLAS_NUM_THREADS=1`` runs numpy and PyTorch
single-threaded (steadier on a busy machine, where a BLAS thread waiting for a descheduled partner
spins). PyTorch is not a dependency of the course; to compare, run this from a separate virtual
environment::

    python3 -m venv /tmp/vtorch && /tmp/vtorch/bin/pip install torch numpy==2.4.6 threadpoolctl
    /tmp/vtorch/bin/pip install -e . --no-deps && /tmp/vtorch/bin/python tests/benchmarks/bench_training.py
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np
from timing import timed

from nnlib import data, losses
from nnlib.model import Activation, Conv2D, Dense, Flatten, MaxPool, Sequential, evaluate, train
from nnlib.rnn import rnn_backward, rnn_forward

try:
    import torch
except ImportError:  # the comparison is skipped, nnlib is still timed
    torch = None

if torch is not None and os.environ.get("OPENBLAS_NUM_THREADS"):  # same thread count on both sides
    torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))



def compare(contenders, rounds):
    """Alternate the contenders ``rounds`` times; returns {name: [seconds, ...]}."""
    for fn in contenders.values():
        fn()  # warm-up
    times = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(timed(contenders[name]))
    return times


def report(title, times, baseline="nnlib"):
    print(f"  {title}")
    for name, ts in times.items():
        line = f"    {name:<28} median {1e3 * statistics.median(ts):9.2f} ms  (min {1e3 * min(ts):.2f})"
        if name != baseline and baseline in times:
            ratios = [a / b for a, b in zip(times[baseline], ts)]
            line += f"   nnlib/this = {statistics.median(ratios):.2f}"
        print(line)


# ------------------------------------------------------------------------------------------ (a) RNN


def bench_rnn(rounds):
    N, T, D, H = 32, 50, 64, 128
    print(f"(a) RNN forward + BPTT, N={N} T={T} D={D} H={H}, tanh; {rounds} rounds")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((N, T, D)).astype(dtype)
        h0 = rng.standard_normal((N, H)).astype(dtype)
        w_x = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
        w_h = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
        b = np.zeros(H, dtype=dtype)
        dh = rng.standard_normal((N, T, H)).astype(dtype)

        def nnlib_rnn():
            h, cache = rnn_forward(x, h0, w_x, w_h, b)
            rnn_backward(dh, cache)

        contenders = {"nnlib": nnlib_rnn}
        if torch is not None:
            tx, th0, tdh = (torch.from_numpy(a) for a in (x, h0, dh))
            params = [torch.from_numpy(a.copy()).requires_grad_() for a in (w_x, w_h, b)]

            def torch_rnn(hoisted):
                tw_x, tw_h, tb = params
                for p in params:
                    p.grad = None
                h = th0.requires_grad_()
                hs = []
                if hoisted:  # x_t @ w_x + b for all t in one product, as nnlib does
                    a = (tx.reshape(N * T, D) @ tw_x + tb).reshape(N, T, H)
                    for t in range(T):
                        h = torch.tanh(a[:, t] + h @ tw_h)
                        hs.append(h)
                else:  # the cell as written: h_t = tanh(h_{t-1} @ w_h + x_t @ w_x + b)
                    for t in range(T):
                        h = torch.tanh(h @ tw_h + tx[:, t] @ tw_x + tb)
                        hs.append(h)
                (torch.stack(hs, dim=1) * tdh).sum().backward()

            contenders["torch (hoisted input)"] = lambda: torch_rnn(True)
            contenders["torch (cell per step)"] = lambda: torch_rnn(False)
        report(np.dtype(dtype).name, compare(contenders, rounds))


# ------------------------------------------------------------------------------------------ (b) MLP


def gemm_loop(m, k, n, count, transposed=False):
    """A function doing ``count`` float32 (m, k) @ (k, n) products in numpy, and their FLOPs.
    ``transposed``: the left factor is the transpose of a C-contiguous (k, m) array, as ``x.T`` is."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m), dtype=np.float32).T if transposed else rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)

    def run():
        for _ in range(count):
            np.matmul(a, b, out=out)

    return run, 2 * m * k * n * count


def bench_mlp(rounds, n=60_000):
    B, D, Hd, K = 128, 784, 256, 10
    print(f"(b) one epoch of a {D}-{Hd}-{K} ReLU MLP, softmax cross-entropy, SGD, batch {B}, {n} float32 samples;"
          f" {rounds} rounds")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, D), dtype=np.float32)
    y = rng.integers(0, K, size=n)
    model = Sequential([Dense(D, Hd, rng=rng, dtype=np.float32), Activation("relu"), Dense(Hd, K, rng=rng, dtype=np.float32)])

    def nnlib_epoch():
        train(model, x, y, optimizer="sgd", lr=0.01, epochs=1, batch_size=B, rng=rng, progress=False)

    contenders = {"nnlib": nnlib_epoch}
    if torch is not None:
        tmodel = torch.nn.Sequential(torch.nn.Linear(D, Hd), torch.nn.ReLU(), torch.nn.Linear(Hd, K))
        opt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(0)

        def torch_epoch():
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, B):
                idx = order[i:i + B]
                loss = torch.nn.functional.cross_entropy(tmodel(tx[idx]), ty[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

        contenders["torch"] = torch_epoch
    # The machine's own GEMM rate at the layer's sizes, measured in the same rounds (the load may drift).
    gemm_forward, gemm_forward_flops = gemm_loop(B, D, Hd, 200)  # x @ w1
    gemm_backward, gemm_backward_flops = gemm_loop(D, B, Hd, 200, transposed=True)  # x.T @ da1
    contenders["GEMM 200x (128x784)@(784x256)"] = gemm_forward
    contenders["GEMM 200x (128x784).T@(128x256)"] = gemm_backward
    times = compare(contenders, rounds)
    report("epoch (GEMM loops timed in the same rounds)", {k: v for k, v in times.items() if "GEMM" not in k})

    # Useful FLOPs (what PyTorch computes too; the input's gradient is not needed): forward x @ w1, h @ w2;
    # backward dw1 = x.T @ da1, dw2 = h.T @ dz, dh = dz @ w2.T.
    flops = 2 * n * (2 * D * Hd + 3 * Hd * K)
    epoch = times["nnlib"]
    rate_f = [gemm_forward_flops / t / 1e9 for t in times["GEMM 200x (128x784)@(784x256)"]]
    rate_b = [gemm_backward_flops / t / 1e9 for t in times["GEMM 200x (128x784).T@(128x256)"]]

    def rate(seconds):
        return flops / seconds / 1e9

    print(f"    numpy float32 GEMM (128x784)@(784x256): median {statistics.median(rate_f):6.1f} GFLOP/s"
          f" (best {max(rate_f):.1f})")
    print(f"    numpy float32 GEMM (128x784).T@(128x256): median {statistics.median(rate_b):6.1f} GFLOP/s"
          f" (best {max(rate_b):.1f})")
    best_gemm = max(max(rate_f), max(rate_b))
    median_gemm = max(statistics.median(rate_f), statistics.median(rate_b))
    print(f"    nnlib epoch: {flops / 1e9:.1f} GFLOP of forward + backward GEMMs;"
          f" median {rate(statistics.median(epoch)):.1f} GFLOP/s = {rate(statistics.median(epoch)) / median_gemm:.0%}"
          f" of the median GEMM rate; best {rate(min(epoch)):.1f} GFLOP/s = {rate(min(epoch)) / best_gemm:.0%}"
          f" of the best GEMM rate")


# ------------------------------------------------------------------------------------------ (c) CNN


def bench_cnn(target=0.95, max_epochs=12):
    print(f"(c) small CNN on the shipped digits, Adam, batch 64, trained until {target:.0%} test accuracy")
    d = data.load_digits()
    rng = np.random.default_rng(0)
    f32 = np.float32
    model = Sequential([
        Conv2D(1, 16, 3, rng=rng, pad=1, dtype=f32), Activation("relu"), MaxPool(2),  # (N, 16, 8, 8)
        Conv2D(16, 32, 3, rng=rng, pad=1, dtype=f32), Activation("relu"), MaxPool(2),  # (N, 32, 4, 4)
        Flatten(), Dense(512, 64, rng=rng, dtype=f32), Activation("relu"), Dense(64, 10, rng=rng, dtype=f32),
    ])
    start = time.perf_counter()
    for epoch in range(1, max_epochs + 1):
        train(model, d["x_train"], d["y_train"], lr=2e-3, epochs=1, batch_size=64, rng=rng, progress=False)
        _, accuracy = evaluate(model, d["x_test"], d["y_test"])
        elapsed = time.perf_counter() - start
        print(f"    epoch {epoch}: test accuracy {accuracy:.4f}, {elapsed:.1f} s")
        if accuracy >= target:
            break
    status = "reached" if accuracy >= target else "NOT reached"
    print(f"    target {target:.0%} {status}: test accuracy {accuracy:.4f} after {epoch} epochs, {elapsed:.1f} s"
          f" (target under 60 s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a smaller MLP data set")
    parser.add_argument("--only", default="rnn,mlp,cnn", help="comma-separated subset of rnn,mlp,cnn")
    args = parser.parse_args()
    which = set(args.only.split(","))
    blas = "?"
    try:
        import threadpoolctl

        blas = ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
                         for i in threadpoolctl.threadpool_info())
    except ImportError:
        pass
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")}
    print(f"numpy {np.__version__} ({blas}); torch {torch.__version__ if torch else 'not importable'}"
          f"{f' x{torch.get_num_threads()} threads' if torch else ''}; {os.cpu_count()} cpus; {platform.processor() or platform.machine()}")
    print(f"environment: {env}")
    if "rnn" in which:
        bench_rnn(rounds=7 if args.quick else 21)
    if "mlp" in which:
        bench_mlp(rounds=3 if args.quick else 7, n=20_000 if args.quick else 60_000)
    if "cnn" in which:
        bench_cnn()


if __name__ == "__main__":
    main()
