"""Chapter 5's exercises, convolution: inputs, references and known mistakes.

The notebook imports ``check`` and ``grade`` from here. The exercises, in the notebook's order:

- ``riemann_convolve``: the integral ``(f * g)(t) = integral f(tau) g(t - tau) dtau`` as a Riemann
  sum of sampled functions, ``dt * sum_k f[k] g[n - k]``;
- ``convolve1d`` / ``correlate1d``: the discrete sums in the modes full, same and valid (numpy's
  conventions), the kernel never longer than the signal;
- ``conv_output_size``: ``(H + 2P - K) / S + 1``, a ``ValueError`` when the stride does not fit or
  the kernel is larger than the padded input (the check's outputs are ``(raised, size)``, see ``run_output_size``);
- ``conv_forward`` (loops) / ``conv_backward``: the convolutional layer, multi-channel, with stride
  and padding; the backward is compared with nnlib and with central differences of the student's
  own forward;
- ``conv_forward_fast``: the same forward without loops over output positions (im2col or strided
  views), compared with nnlib (the notebook then compares it with the student's loops and times both);
- ``max_pool_forward`` / ``max_pool_backward``: max pooling; the tie rule is nnlib's (the first
  maximum of a window in row-major order takes the whole gradient).

Every geometry the checks draw fits exactly: ``(H + 2P - K)`` is a multiple of ``S`` (the statements
promise it). Only the layers promise "the dtype of x" (float32 cases); the 1-D functions take and
return float64.
"""

import os
import sys

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake
from autograder.exercises._adapters import describe as _describe, pair as _pair
from nnlib import conv, gradcheck
from nnlib.gradcheck import numerical_gradient_array

#: conv_output_size's outputs as the check sees them, ``(raised, size)``: a ValueError is ``(1, 0)`` (see run_output_size).
RAISED = (1, 0)


class Untrusted(Exception):
    """Raised by a ``numerical`` function when central differences cannot be trusted on this case
    (ties in a max-pool window); the engine then compares with nnlib only."""




def _first(name, pair="(out, cache)"):
    """Adapter for a forward pass ``f(*args) -> (out, cache)``: the check compares ``out``."""

    def run(function, forward, *args):
        return (_pair(function(*args), name, pair)[0],)

    return run


# -- 1-D: the integral, the discrete sums ---------------------------------------------------------


def riemann_convolve_reference(f, g, dt):
    """``dt * sum_k f[k] g[n - k]`` for n = 0 .. len_f + len_g - 2."""
    return dt * conv.convolve1d(f, g, "full")


def _gaussian(rng, sigma, dt, length):
    t = (np.arange(length) - (length - 1) / 2) * dt
    return np.exp(-t**2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)


def riemann_cases():
    def boxes(rng):
        dt = float(rng.uniform(0.05, 0.3))
        return np.ones(int(rng.integers(3, 9))), np.ones(int(rng.integers(2, 7))), dt

    def gaussians(rng):
        dt = float(rng.uniform(0.05, 0.2))
        return _gaussian(rng, rng.uniform(0.3, 0.8), dt, 21), _gaussian(rng, rng.uniform(0.2, 0.5), dt, 15), dt

    def random(len_f, len_g, dt=None):
        def draw(rng):
            step = float(rng.uniform(0.01, 0.5)) if dt is None else dt
            return rng.standard_normal(len_f), rng.standard_normal(len_g), step

        return draw

    return (
        Case("random samples, len(f) = 7, len(g) = 4, dt in [0.01, 0.5]", random(7, 4)),
        Case("two boxes (samples all 1) of random lengths", boxes),
        Case("two sampled Gaussians (21 and 15 samples)", gaussians),
        Case("g longer than f (len 3 and 6)", random(3, 6)),
        Case("dt = 1: the plain discrete sum (len 5 and 3)", random(5, 3, dt=1.0)),
        Case("random samples, len(f) = 12, len(g) = 5", random(12, 5), hidden=True),
        Case("g longer than f (len 2 and 9)", random(2, 9), hidden=True),
        Case("two sampled Gaussians, another draw", gaussians, hidden=True),
        Case("dt = 1, len 4 and 4", random(4, 4, dt=1.0), hidden=True),
    )


def modes_cases():
    def draw(len_x, len_k, mode):
        return lambda rng: (rng.standard_normal(len_x), rng.standard_normal(len_k), mode)

    visible = [
        Case("mode 'full', len(x) = 8, len(k) = 3", draw(8, 3, "full")),
        Case("mode 'valid', len(x) = 8, len(k) = 3", draw(8, 3, "valid")),
        Case("mode 'same', an odd kernel: len(x) = 7, len(k) = 3", draw(7, 3, "same")),
        Case("mode 'same', an even kernel: len(x) = 9, len(k) = 4", draw(9, 4, "same")),
        Case("mode 'valid', k as long as x (len 5 and 5)", draw(5, 5, "valid")),
        Case("mode 'full', a one-sample kernel (len 6 and 1)", draw(6, 1, "full")),
        Case("mode 'same', k as long as x (len 4 and 4)", draw(4, 4, "same")),
        Case("mode 'valid', a one-sample kernel (len 6 and 1)", draw(6, 1, "valid")),
        Case("mode 'same', a one-sample kernel (len 5 and 1)", draw(5, 1, "same")),
    ]
    hidden = [
        Case("mode 'full', len(x) = 11, len(k) = 4", draw(11, 4, "full"), hidden=True),
        Case("mode 'valid', len(x) = 10, len(k) = 6", draw(10, 6, "valid"), hidden=True),
        Case("mode 'same', an even kernel: len(x) = 6, len(k) = 2", draw(6, 2, "same"), hidden=True),
        Case("mode 'same', an odd kernel: len(x) = 12, len(k) = 5", draw(12, 5, "same"), hidden=True),
        Case("mode 'full', k as long as x (len 5 and 5)", draw(5, 5, "full"), hidden=True),
        Case("mode 'valid', a one-sample kernel (len 7 and 1)", draw(7, 1, "valid"), hidden=True),
        Case("mode 'same', a one-sample kernel (len 8 and 1)", draw(8, 1, "same"), hidden=True),
    ]
    return tuple(visible + hidden)


def _full_by_loops(x, k, flip=True):
    """The full convolution (``flip``) or the full correlation, by loops (for the mistakes)."""
    out = np.zeros(len(x) + len(k) - 1)
    for n in range(out.size):
        for m in range(len(k)):
            j = n - m if flip else n - (len(k) - 1) + m
            if 0 <= j < len(x):
                out[n] += x[j] * k[m]
    return out


def _crop(full, len_x, len_k, mode, same_start=None):
    if mode == "full":
        return full
    if mode == "same":
        start = (len_k - 1) // 2 if same_start is None else same_start
        return full[start : start + len_x]
    return full[len_k - 1 : len_x]


def _convolve_mistake(*, flip=True, same_start=None, valid=None, full_short=False, negative_ends=False):
    def wrong(x, k, mode="full"):
        full = _full_by_loops(x, k, flip=flip)
        if negative_ends and mode != "full":  # full[start : -(values dropped at the end)]: -0 is 0, an empty slice
            start = (len(k) - 1) // 2 if mode == "same" else len(k) - 1
            return full[start : -(len(k) - 1 - start if mode == "same" else len(k) - 1)]
        if mode == "same" and same_start is not None:
            return _crop(full, len(x), len(k), mode, same_start(len(k)))
        if mode == "valid" and valid is not None:
            return full[valid(len(x), len(k))]
        if mode == "full" and full_short:
            return full[:-1]
        return _crop(full, len(x), len(k), mode)

    return wrong


RIEMANN_MISTAKES = (
    Mistake("the dt is missing: the integral's dtau becomes a factor dt in the sum", lambda f, g, dt: conv.convolve1d(f, g, "full")),
    Mistake("g is not flipped: that is a cross-correlation; the integral has g(t - tau), so g[n - k]",
            lambda f, g, dt: dt * _full_by_loops(f, g, flip=False)),
    Mistake("the sum is divided by dt: each sample stands for a strip of width dt, so multiply",
            lambda f, g, dt: conv.convolve1d(f, g, "full") / dt),
    Mistake("only len(f) values: the full result has len(f) + len(g) - 1, the overlap grows and shrinks on both sides",
            lambda f, g, dt: dt * conv.convolve1d(f, g, "full")[: len(f)]),
)

CONVOLVE_MISTAKES = (
    Mistake("the kernel is not flipped: this is a cross-correlation, sum_m x[n + m] k[m]; convolution has k[n - m]",
            _convolve_mistake(flip=False)),
    Mistake("'same' starts one value late for an even kernel: numpy drops (len(k) - 1) // 2 values of 'full' at the start",
            _convolve_mistake(same_start=lambda len_k: len_k // 2)),
    Mistake("'valid' is one value short: it has len(x) - len(k) + 1 values", _convolve_mistake(valid=lambda lx, lk: slice(lk, lx))),
    Mistake("'valid' is one value too long: it has len(x) - len(k) + 1 values", _convolve_mistake(valid=lambda lx, lk: slice(lk - 2 if lk > 1 else 0, lx))),
    Mistake("'full' misses its last value: it has len(x) + len(k) - 1 values", _convolve_mistake(full_short=True)),
    Mistake("the slice of 'full' ends at a negative index, -(values dropped at the end): when nothing is dropped "
            "(a one-sample kernel) that is -0, which is 0, and the slice is empty; give the end as a length, start + values",
            _convolve_mistake(negative_ends=True)),
)

CORRELATE_MISTAKES = (
    Mistake("the kernel is flipped: correlation slides k as it is, sum_m x[n + m] k[m]; that was a convolution",
            _convolve_mistake(flip=True)),
    Mistake("the result is reversed: correlate(x, k) runs over the shifts n of x, from -(len(k) - 1) to len(x) - 1",
            lambda x, k, mode="valid": _convolve_mistake(flip=False)(x, k, mode)[::-1]),
    Mistake("'same' starts one value late for an even kernel: drop (len(k) - 1) // 2 values of 'full' at the start, as for convolution",
            _convolve_mistake(flip=False, same_start=lambda len_k: len_k // 2)),
    Mistake("'valid' is one value short: it has len(x) - len(k) + 1 values",
            _convolve_mistake(flip=False, valid=lambda lx, lk: slice(lk, lx))),
    Mistake("the slice of 'full' ends at a negative index, -(values dropped at the end): when nothing is dropped "
            "(a one-sample kernel) that is -0, which is 0, and the slice is empty; give the end as a length, start + values",
            _convolve_mistake(flip=False, negative_ends=True)),
)


# -- output sizes ------------------------------------------------------------------------------------


def output_size_reference(size, kernel_size, stride, pad):
    """``(raised, size)``: ``(1, 0)`` if the geometry must raise ValueError, else ``(0, output size)``."""
    try:
        return (0, conv.output_size(size, kernel_size, stride, pad, strict=True))
    except ValueError:
        return RAISED


def run_output_size(function, forward, size, kernel_size, stride, pad):
    """``(1, 0)`` if the student's function raised ValueError, else ``(0, its int)`` (other exceptions are reported).

    The raise is a separate output, so that no returned number (-1, 0) can pass for a ValueError.
    """
    try:
        result = function(size, kernel_size, stride, pad)
    except ValueError:
        return RAISED
    if isinstance(result, bool) or not isinstance(result, (int, np.integer)):
        raise TypeError(f"conv_output_size should return an int, got {_describe(result)} {result!r}.")
    return (0, int(result))


def _size_mistake(formula, *, check_fit=True, check_large=True):
    def wrong(size, kernel_size, stride, pad):
        if check_large and kernel_size > size + 2 * pad:
            raise ValueError("kernel too large")
        span = formula(size, kernel_size, stride, pad)
        if check_fit and span % stride:
            raise ValueError("stride does not fit")
        return span // stride + 1

    return wrong


def output_size_cases():
    def fitting(strides, pads, kernels=(1, 2, 3, 4, 5)):
        def draw(rng):
            stride, pad, kernel = (int(rng.choice(strides)), int(rng.choice(pads)), int(rng.choice(kernels)))
            out = int(rng.integers(1, 12))
            size = (out - 1) * stride + kernel - 2 * pad
            if size < 1:  # too much padding for this kernel: use the smallest input that fits
                size += stride * ((1 - size + stride - 1) // stride)
            return size, kernel, stride, pad

        return draw

    def same_padding(rng):
        kernel = int(rng.choice([3, 5, 7]))
        return int(rng.integers(kernel, 20)), kernel, 1, (kernel - 1) // 2

    def not_fitting(pads):
        def draw(rng):
            stride, pad, kernel = int(rng.integers(2, 4)), int(rng.choice(pads)), int(rng.integers(2, 6))
            size = int(rng.integers(8, 20))
            while (size + 2 * pad - kernel) % stride == 0:
                size += 1
            return size, kernel, stride, pad

        return draw

    def too_large(rng):
        size, pad = int(rng.integers(2, 6)), int(rng.integers(0, 2))
        return size, size + 2 * pad + int(rng.integers(1, 3)), 1, pad

    def larger_than_input(rng):  # H < K < H + 2P: fits thanks to the padding
        size, pad = int(rng.integers(2, 7)), int(rng.integers(1, 3))
        return size, size + int(rng.integers(1, 2 * pad)), 1, pad

    def exact_fit(rng):  # pad >= 1: K = H + 2P > H, so a test of K against H alone (no padding) raises here
        size, pad = int(rng.integers(2, 8)), int(rng.integers(1, 3))
        return size, size + 2 * pad, int(rng.integers(1, 4)), pad

    return (
        Case("stride 1, no padding", fitting((1,), (0,))),
        Case("stride 1 with 'same' padding P = (K - 1) / 2", same_padding),
        Case("stride 2 or 3 with padding 0 to 2, a geometry that fits", fitting((2, 3), (0, 1, 2))),
        Case("a stride that does not fit: ValueError", not_fitting((0,))),
        Case("a kernel larger than the padded input: ValueError", too_large),
        Case("a kernel larger than the input but not than the padded input (stride 1, pad 1 or 2)", larger_than_input),
        Case("a kernel exactly as large as the padded input (one output), pad 1 or 2", exact_fit),
        Case("stride 1, padding 0 to 3", fitting((1,), (0, 1, 2, 3)), hidden=True),
        Case("stride 2 to 4, a geometry that fits", fitting((2, 3, 4), (0, 1)), hidden=True),
        Case("a stride that does not fit, with padding: ValueError", not_fitting((1, 2)), hidden=True),
        Case("a kernel larger than the padded input: ValueError", too_large, hidden=True),
        Case("a kernel larger than the input but not than the padded input, another draw", larger_than_input, hidden=True),
        Case("a kernel exactly as large as the padded input, pad 1 or 2, another draw", exact_fit, hidden=True),
    )


def _size_ignoring_pad(size, kernel_size, stride, pad):
    if kernel_size > size:  # the padding forgotten: the window slides over size + 2 * pad values
        raise ValueError("kernel too large")
    return _size_mistake(lambda h, k, s, p: h + 2 * p - k)(size, kernel_size, stride, pad)


def _size_no_room(size, kernel_size, stride, pad):
    if kernel_size >= size + 2 * pad:  # one too strict: a kernel as large as the padded input fits once
        raise ValueError("kernel too large")
    return _size_mistake(lambda h, k, s, p: h + 2 * p - k)(size, kernel_size, stride, pad)


OUTPUT_SIZE_MISTAKES = (
    Mistake("a kernel exactly as large as the padded input raises: it fits, once (K <= H + 2P gives at least one position)",
            _size_no_room),
    Mistake("the kernel is compared with the input without its padding: a kernel up to H + 2P fits, the window "
            "slides over the padded input", _size_ignoring_pad),
    Mistake("the + 1 is missing: the first window is at position 0, then one more per stride",
            lambda size, kernel_size, stride, pad: _size_mistake(lambda h, k, s, p: h + 2 * p - k)(size, kernel_size, stride, pad) - 1),
    Mistake("the padding is counted once: it is added on both sides, H + 2P",
            _size_mistake(lambda h, k, s, p: h + p - k)),
    Mistake("no ValueError when the stride does not fit: (H + 2P - K) must be a multiple of S",
            _size_mistake(lambda h, k, s, p: h + 2 * p - k, check_fit=False)),
    Mistake("no ValueError for a kernel larger than the padded input (K > H + 2P)",
            _size_mistake(lambda h, k, s, p: h + 2 * p - k, check_large=False)),
    Mistake("the division by the stride is missing: the window moves S positions at a time",
            lambda size, kernel_size, stride, pad: _size_mistake(lambda h, k, s, p: h + 2 * p - k)(size, kernel_size, stride, pad) - 1
            + (size + 2 * pad - kernel_size)),
)


# -- the convolutional layer ----------------------------------------------------------------------


def _geometry(n, c, h, w, f, kh, kw, stride=1, pad=0, dtype=np.float64, transposed=False, with_dout=False):
    """Inputs (x, w, b, stride, pad[, dout]) of a layer; ``transposed``: x is a non-contiguous view."""
    assert (h + 2 * pad - kh) % stride == 0 and (w + 2 * pad - kw) % stride == 0, "the checks use fitting geometries"

    def draw(rng):
        if transposed:
            x = rng.standard_normal((n, c, w, h)).astype(dtype).transpose(0, 1, 3, 2)  # (N, C, H, W), a view
        else:
            x = rng.standard_normal((n, c, h, w)).astype(dtype)
        args = (x, rng.standard_normal((f, c, kh, kw)).astype(dtype), rng.standard_normal(f).astype(dtype), stride, pad)
        if with_dout:
            out_h, out_w = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
            args += (rng.standard_normal((n, f, out_h, out_w)).astype(dtype),)
        return args

    return draw


def conv_cases(with_dout=False):
    """The layer's cases. The backward's are smaller: its check differentiates the student's loops numerically,
    two forward passes per element of x, w and b."""

    def case(description, *geometry, hidden=False, **options):
        return Case(description, _geometry(*geometry, with_dout=with_dout, **options), hidden=hidden)

    if with_dout:
        return (
            case("N = 2, C = F = 2 channels and filters, 4x4 input, 3x3 kernel, stride 1, no padding", 2, 2, 4, 4, 2, 3, 3),
            case("C = 2 channels, F = 3 filters, 4x4 input, 3x3 kernel, pad 1 (N = 2)", 2, 2, 4, 4, 3, 3, 3, 1, 1),
            case("stride 2, pad 1: N = 2, C = 2, F = 2, 5x5 input, 3x3 kernel", 2, 2, 5, 5, 2, 3, 3, 2, 1),
            case("a 2x3 kernel on a 4x5 input, x a transposed (non-contiguous) view (N = 1, C = 2, F = 2)",
                 1, 2, 4, 5, 2, 2, 3, transposed=True),
            case("a 1x1 kernel, C = 3, F = 2, 3x4 input (N = 2)", 2, 3, 3, 4, 2, 1, 1),
            case("a kernel as large as the padded input (one output): N = 2, C = 1, F = 2, 3x3 input, 5x5 kernel, pad 1",
                 2, 1, 3, 3, 2, 5, 5, 1, 1),
            case("float32 inputs: N = 2, C = 2, F = 3, 5x5 input, 3x3 kernel, pad 1", 2, 2, 5, 5, 3, 3, 3, 1, 1, dtype=np.float32),
            case("stride 2, pad 2: N = 2, C = 1, F = 2, 7x7 input, 5x5 kernel", 2, 1, 7, 7, 2, 5, 5, 2, 2, hidden=True),
            case("C = 3 channels, F = 2 filters, 3x5 input, 2x2 kernel (N = 2)", 2, 3, 3, 5, 2, 2, 2, hidden=True),
            case("float32, stride 3, x a transposed view: N = 2, C = 2, F = 2, 7x10 input, 4x4 kernel",
                 2, 2, 7, 10, 2, 4, 4, 3, 0, dtype=np.float32, transposed=True, hidden=True),
            case("a 1x1 kernel with stride 2, C = 2, F = 3, 5x5 input (N = 1)", 1, 2, 5, 5, 3, 1, 1, 2, 0, hidden=True),
        )
    return (
        case("N = 2, C = F = 2 channels and filters, 5x5 input, 3x3 kernel, stride 1, no padding", 2, 2, 5, 5, 2, 3, 3),
        case("C = 3 channels, F = 4 filters, 6x6 input, 3x3 kernel, pad 1 (N = 2)", 2, 3, 6, 6, 4, 3, 3, 1, 1),
        case("stride 2, pad 1: N = 2, C = 2, F = 3, 7x7 input, 3x3 kernel", 2, 2, 7, 7, 3, 3, 3, 2, 1),
        case("a 2x3 kernel on a 5x6 input, x a transposed (non-contiguous) view (N = 1, C = 2, F = 2)",
             1, 2, 5, 6, 2, 2, 3, transposed=True),
        case("a 1x1 kernel, C = 4, F = 2, 4x5 input (N = 2)", 2, 4, 4, 5, 2, 1, 1),
        case("a kernel as large as the padded input (one output): N = 2, C = 2, F = 3, 3x3 input, 5x5 kernel, pad 1",
             2, 2, 3, 3, 3, 5, 5, 1, 1),
        case("float32 inputs: N = 2, C = 2, F = 3, 6x6 input, 3x3 kernel, pad 1", 2, 2, 6, 6, 3, 3, 3, 1, 1, dtype=np.float32),
        case("N = 3, C = 1, F = 3, 9x9 input, 5x5 kernel, stride 2, pad 2", 3, 1, 9, 9, 3, 5, 5, 2, 2, hidden=True),
        case("C = 3 channels, F = 5 filters, 8x7 input, 2x2 kernel (N = 2)", 2, 3, 8, 7, 5, 2, 2, hidden=True),
        case("float32, stride 3, x a transposed view: N = 2, C = 2, F = 2, 7x10 input, 4x4 kernel",
             2, 2, 7, 10, 2, 4, 4, 3, 0, dtype=np.float32, transposed=True, hidden=True),
        case("a 1x1 kernel with stride 2, C = 2, F = 3, 5x5 input (N = 2)", 2, 2, 5, 5, 3, 1, 1, 2, 0, hidden=True),
    )


def fast_cases():
    """Cases with many output positions, where the check counts the lines conv_forward_fast runs."""
    return (
        Case("many output positions (N = 4, C = 1, 12x12 input, 2x2 kernel): the check counts the lines of Python "
             "your function runs", _geometry(4, 1, 12, 12, 3, 2, 2)),
        Case("many output positions (N = 3, C = 2, 10x14 input, 3x3 kernel, pad 1): the check counts the lines",
             _geometry(3, 2, 10, 14, 4, 3, 3, 1, 1), hidden=True),
    )


def _conv_loops(x, w, b, stride, pad, *, flip=False, channel_axis_swapped=False, pad_top_left_only=False,
                stride_in_windows=True, bias=True):
    """The forward by loops, right or with one of the mistakes (nnlib's reference is conv2d_forward_naive)."""
    n_batch, _, h, wd = x.shape
    n_filters, _, kh, kw = w.shape
    if channel_axis_swapped:
        w = w.transpose(1, 0, 2, 3)  # only runs when C == F
    if flip:
        w = w[:, :, ::-1, ::-1]
    if pad_top_left_only:
        xp = np.pad(x, ((0, 0), (0, 0), (2 * pad, 0), (2 * pad, 0)))
    else:
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n_batch, n_filters, out_h, out_w), dtype=x.dtype)
    step = stride if stride_in_windows else 1
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * step : i * step + kh, j * step : j * step + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + (b[f] if bias else 0)
    return out


def _conv_mistake(**options):
    return lambda x, w, b, stride=1, pad=0: (_conv_loops(x, w, b, stride, pad, **options), None)


CONV_FORWARD_MISTAKES = (
    Mistake("the kernel is flipped: a convolutional layer computes a cross-correlation, xp[n, :, i*S + u, j*S + v] * w[f, :, u, v]",
            _conv_mistake(flip=True)),
    Mistake("the filter axis of w is summed against the channels of x: w has shape (F, C, KH, KW), "
            "so filter f is w[f] and the channels are w's axis 1", _conv_mistake(channel_axis_swapped=True)),
    Mistake("the bias is missing: + b[f] on every output of filter f", _conv_mistake(bias=False)),
    Mistake("the padding goes on one side only: P zeros on each side (top and bottom, left and right)",
            _conv_mistake(pad_top_left_only=True)),
    Mistake("the windows ignore the stride: window (i, j) starts at row i*S and column j*S", _conv_mistake(stride_in_windows=False)),
)


def conv_backward_expected(x, w, b, stride, pad, dout):
    return conv.conv2d_backward_naive(dout, conv.conv2d_forward_naive(x, w, b, stride, pad)[1])


class DifferencesTheForward(Exception):
    """The student's backward computed its gradients numerically (nnlib.gradcheck, or its forward run many times)."""


#: nnlib's numerical differentiation: a backward that calls one of these is not derived.
_NUMERICAL_CODES = {f.__code__: f.__name__ for f in (gradcheck.numerical_gradient, gradcheck.numerical_gradient_array,
                                                      gradcheck.numerical_derivative, gradcheck.check_gradient,
                                                      gradcheck.check_backward)}


def _profiled(function, *args, on_call):
    """``function(*args)`` with ``on_call(code)`` told of every Python call; the profiler before is kept running."""
    previous = sys.getprofile()

    def profile(frame, event, arg):
        if previous is not None:
            previous(frame, event, arg)
        if event == "call":
            on_call(frame.f_code)

    sys.setprofile(profile)
    try:
        return function(*args)
    finally:
        sys.setprofile(previous)


def _derived_backward(name, forward_name, backward, forward, forward_args, dout, allowance):
    """``backward(dout, cache)`` with the cache from ``forward(*forward_args)``; raise ``DifferencesTheForward``
    if the backward calls nnlib's numerical gradients, or calls the student's forward more than ``allowance`` times.

    A derivation may use the forward as a building block (dx as a correlation of the padded ``dout`` with the
    flipped filters, per image, channel and filter: a few calls); central differences need two calls per element
    of every input, far more than the allowance on every case.
    """
    called = []  # the student's own functions, in call order (the first is the forward)
    result = _profiled(forward, *forward_args, on_call=lambda code: called.append(code)
                       if not _is_library(code.co_filename) and not _is_checks(code.co_filename) else None)
    cache = _pair(result, forward_name, "(out, cache)")[1]
    forward_code = called[0] if called else None
    seen = {"forward": 0, "numerical": None}

    def on_call(code):
        if code is forward_code:
            seen["forward"] += 1
        elif code in _NUMERICAL_CODES and seen["numerical"] is None:
            seen["numerical"] = _NUMERICAL_CODES[code]

    grads = _profiled(backward, dout, cache, on_call=on_call)
    if seen["numerical"] or seen["forward"] > allowance:
        how = (f"calls nnlib's {seen['numerical']}" if seen["numerical"]
               else f"runs your {forward_name} {seen['forward']} times")
        raise DifferencesTheForward(
            f"{name} {how}: that is a numerical gradient, which the check uses to test yours. Derive the gradient "
            f"from the forward formula instead."
        )
    return grads


def run_conv_backward(function, forward, x, w, b, stride, pad, dout):
    allowance = 2 * x.shape[0] * x.shape[1] * w.shape[0]  # 2 N C F
    return _derived_backward("conv_backward", "conv_forward", function, forward, (x, w, b, stride, pad), dout, allowance)


def conv_numerical(forward, x, w, b, stride, pad, dout):
    """Central differences of the student's own forward (it is linear in each argument: exact up to rounding)."""

    def out(x, w, b):
        return forward(x, w, b, stride, pad)[0]

    return (
        numerical_gradient_array(lambda v: out(v, w, b), x.copy(), dout),
        numerical_gradient_array(lambda v: out(x, v, b), w.copy(), dout),
        numerical_gradient_array(lambda v: out(x, w, v), b.copy(), dout),
    )


def _conv_backward_loops(dout, x, w, stride, pad, *, flip_dx=False, accumulate=True, batch_sum=True, db_over_space=True,
                         crop=True, flip_dw=False, dx_stride=True, dw_stride=True):
    """The backward by loops, right or with one of the mistakes."""
    n_batch, _, h, wd = x.shape
    n_filters, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w_dx = w[:, :, ::-1, ::-1] if flip_dx else w
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(n_batch):
        dw_n = np.zeros_like(w)
        for f in range(n_filters):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                    dx_rows, dx_cols = (rows, cols) if dx_stride else (slice(i, i + kh), slice(j, j + kw))
                    dw_rows, dw_cols = (rows, cols) if dw_stride else (slice(i, i + kh), slice(j, j + kw))
                    if accumulate:
                        dxp[n, :, dx_rows, dx_cols] += dout[n, f, i, j] * w_dx[f]
                    else:
                        dxp[n, :, dx_rows, dx_cols] = dout[n, f, i, j] * w_dx[f]
                    dw_n[f] += dout[n, f, i, j] * xp[n, :, dw_rows, dw_cols]
        dw = dw + dw_n if batch_sum else dw_n
    if flip_dw:
        dw = dw[:, :, ::-1, ::-1].copy()
    db = dout.sum(axis=(0, 2, 3)) if db_over_space else dout.sum(axis=0)
    dx = dxp[:, :, pad : pad + h, pad : pad + wd] if crop else dxp
    return dx, dw, db


def _conv_backward_mistake(**options):
    """A wrong conv_backward from nnlib's cache ``(x, w, b, stride, pad, dtypes)``."""

    def backward(dout, cache):
        x, w, _, stride, pad, _ = cache
        return _conv_backward_loops(dout, x, w, stride, pad, **options)

    return backward


CONV_BACKWARD_MISTAKES = (
    Mistake("dw is not summed over the batch: every example's windows add to dw, so accumulate over n too",
            _conv_backward_mistake(batch_sum=False)),
    Mistake("db is not summed over space: the bias is added at every output position, so db[f] sums dout[:, f] over N, "
            "H_out and W_out", _conv_backward_mistake(db_over_space=False)),
    Mistake("dx is computed without the flip: it is a full convolution of dout with the filters (a correlation with the "
            "flipped filters); as a correlation with w as it is, each window's gradient comes out upside down "
            "(window (i, j) must receive dout[n, f, i, j] * w[f], unflipped)", _conv_backward_mistake(flip_dx=True)),
    Mistake("overlapping windows overwrite dx: a pixel in several windows gets the sum of their gradients (+=, not =)",
            _conv_backward_mistake(accumulate=False)),
    Mistake("dx keeps the padding: crop the P rows and columns added on each side, dx has the shape of x",
            _conv_backward_mistake(crop=False)),
    Mistake("dw is flipped: dw[f, c, u, v] pairs dout with the input at offset (u, v) of each window",
            _conv_backward_mistake(flip_dw=True)),
    Mistake("dx ignores the stride: window (i, j) starts at row i*S and column j*S of the padded input (as a full "
            "convolution, dout must first be spread out with S - 1 zeros between its values)",
            _conv_backward_mistake(dx_stride=False)),
    Mistake("dw ignores the stride: the input under window (i, j) starts at row i*S and column j*S of the padded input",
            _conv_backward_mistake(dw_stride=False)),
    Mistake("the backward ignores the stride: window (i, j) starts at row i*S and column j*S, for dx and for dw",
            _conv_backward_mistake(dx_stride=False, dw_stride=False)),
)


def _fast_mistake(*, column_order="CHW", wrong_reshape=False, channel_axis_swapped=False):
    """A wrong im2col forward: the windows as columns, one matrix product, with one mistake."""

    def forward(x, w, b, stride=1, pad=0):
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        out_h, out_w = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.stack([
            xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] for i in range(out_h) for j in range(out_w)
        ], axis=1)  # (N, H_out*W_out, C, KH, KW)
        if column_order == "HWC":
            windows = windows.transpose(0, 1, 3, 4, 2)  # rows in (KH, KW, C) order
        cols = windows.reshape(n * out_h * out_w, c * kh * kw)  # (N*H_out*W_out, C*KH*KW)
        w_mat = (w.transpose(1, 0, 2, 3) if channel_axis_swapped else w).reshape(f, -1)  # (F, C*KH*KW)
        out = cols @ w_mat.T + b  # (N*H_out*W_out, F)
        if wrong_reshape:
            return out.reshape(n, f, out_h, out_w)
        return out.reshape(n, out_h, out_w, f).transpose(0, 3, 1, 2)

    return forward


CONV_FAST_MISTAKES = (
    Mistake("the columns of im2col are in (KH, KW, C) order but the filters are flattened in (C, KH, KW) order: "
            "flatten both the same way", _fast_mistake(column_order="HWC")),
    Mistake("the (N*H_out*W_out, F) product is reshaped straight to (N, F, H_out, W_out): reshape to (N, H_out, W_out, F), "
            "then move F to axis 1", _fast_mistake(wrong_reshape=True)),
    Mistake("the filter axis of w is summed against the channels of x: flatten w[f] (its axes C, KH, KW) for filter f",
            _fast_mistake(channel_axis_swapped=True)),
    Mistake("the kernel is flipped: a convolutional layer computes a cross-correlation",
            lambda x, w, b, stride=1, pad=0: _fast_mistake()(x, w[:, :, ::-1, ::-1], b, stride, pad)),
)


#: A vectorised forward may loop over the kernel's offsets and run a few setup lines; on a case with many output
#: positions, more lines than this (plus 3 per kernel offset) means a loop over the output positions.
FAST_LINE_ALLOWANCE = 100
#: The rule applies to the cases with at least this many output positions N * H_out * W_out.
FAST_MIN_POSITIONS = 200


_AUTOGRADER_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class LoopsOverPositions(Exception):
    """The student's conv_forward_fast ran a Python line per output position."""


#: Code in these folders is not the student's: numpy, the standard library, nnlib and the checks themselves
#: (which may wrap the student's function).
_LIBRARY_FOLDERS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (np.__file__, os.__file__, conv.__file__, os.path.dirname(os.path.abspath(__file__)))
)


def _is_checks(filename):
    """Whether ``filename`` is part of the autograder (the check's wrappers around the student's functions)."""
    return os.path.abspath(filename).startswith(_AUTOGRADER_FOLDER)


def _is_library(filename):
    return os.path.abspath(filename).startswith(_LIBRARY_FOLDERS)


def _count_lines(function, *args):
    """``(result, number of lines of the student's code run by function(*args))``; the tracer before is restored.

    Lines in numpy, the standard library, nnlib and autograder are not counted.
    """
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return None if _is_library(frame.f_code.co_filename) else local

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = function(*args)
    finally:
        sys.settrace(previous)
    return result, count


def run_fast(function, forward, x, w, b, stride, pad):
    """Call conv_forward_fast; on a case with many output positions, fail it if it ran a line per position."""
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    positions = n * ((h + 2 * pad - kh) // stride + 1) * ((wd + 2 * pad - kw) // stride + 1)
    if positions < FAST_MIN_POSITIONS:
        return function(x, w, b, stride, pad)
    out, lines = _count_lines(function, x, w, b, stride, pad)
    limit = FAST_LINE_ALLOWANCE + 3 * kh * kw
    if lines > limit:
        raise LoopsOverPositions(
            f"it ran {lines} lines of Python for {positions} output positions (at most {limit} are expected): "
            f"loop over the kernel's {kh * kw} offsets, not over the output positions"
        )
    return out


# -- max pooling ---------------------------------------------------------------------------------------


def pool_cases(with_dout=False):
    def draw(n, c, h, w, kernel_size, stride, values="normal", dtype=np.float64, transposed=False):
        assert (h - kernel_size) % stride == 0 and (w - kernel_size) % stride == 0, "the checks use fitting geometries"

        def inputs(rng):
            shape = (n, c, w, h) if transposed else (n, c, h, w)
            if values == "ties":
                x = rng.integers(0, 3, shape).astype(dtype)  # many equal maxima in a window
            elif values == "negative":
                x = -rng.uniform(0.5, 3.0, shape).astype(dtype)
            else:
                x = rng.permutation(n * c * h * w).reshape(shape).astype(dtype) / 7 + rng.uniform(0, 0.01, shape).astype(dtype)
            if transposed:
                x = x.transpose(0, 1, 3, 2)  # (N, C, H, W), a non-contiguous view
            args = (x, kernel_size, stride)
            if with_dout:
                out_h, out_w = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
                args += (rng.standard_normal((n, c, out_h, out_w)).astype(dtype),)
            return args

        return inputs

    return (
        Case("2x2 windows, stride 2: N = 2, C = 3, 6x6 input", draw(2, 3, 6, 6, 2, 2)),
        Case("3x3 windows overlapping, stride 1: N = 2, C = 2, 5x5 input", draw(2, 2, 5, 5, 3, 1)),
        Case("3x3 windows, stride 2: N = 1, C = 2, 7x9 input", draw(1, 2, 7, 9, 3, 2)),
        Case("ties: values 0, 1 or 2, 2x2 windows, stride 2 (N = 2, C = 2, 6x6)", draw(2, 2, 6, 6, 2, 2, "ties")),
        Case("ties with overlapping 3x3 windows, stride 1 (N = 1, C = 2, 5x5)", draw(1, 2, 5, 5, 3, 1, "ties")),
        Case("every value negative, 2x2 windows, stride 2 (N = 2, C = 1, 4x4)", draw(2, 1, 4, 4, 2, 2, "negative")),
        Case("float32: 2x2 windows, stride 2, N = 2, C = 2, 4x6 input", draw(2, 2, 4, 6, 2, 2, dtype=np.float32)),
        Case("x a transposed (non-contiguous) view: 2x2 windows, stride 2, N = 2, C = 2, 6x4 input",
             draw(2, 2, 6, 4, 2, 2, transposed=True)),
        Case("2x2 windows, stride 2: N = 3, C = 2, 8x4 input", draw(3, 2, 8, 4, 2, 2), hidden=True),
        Case("2x2 windows, stride 1, ties (N = 2, C = 1, 6x5)", draw(2, 1, 6, 5, 2, 1, "ties"), hidden=True),
        Case("3x3 windows, stride 3, N = 2, C = 4, 9x6 input", draw(2, 4, 9, 6, 3, 3), hidden=True),
        Case("x a transposed view, overlapping 3x3 windows, stride 1 (N = 1, C = 2, 5x7)",
             draw(1, 2, 5, 7, 3, 1, transposed=True), hidden=True),
        Case("every value negative, 3x3 windows, stride 2, float32 (N = 1, C = 3, 7x7)",
             draw(1, 3, 7, 7, 3, 2, "negative", np.float32), hidden=True),
    )


def _pool_loops(x, kernel_size, stride, reduce):
    n, c, h, w = x.shape
    out_h, out_w = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.zeros((n, c, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = reduce(x[:, :, i * stride : i * stride + kernel_size, j * stride : j * stride + kernel_size])
    return out


MAX_POOL_FORWARD_MISTAKES = (
    Mistake("this is average pooling: max pooling keeps the largest value of each window",
            lambda x, kernel_size=2, stride=2: (_pool_loops(x, kernel_size, stride, lambda win: win.mean(axis=(2, 3))), None)),
    Mistake("the maximum starts at 0: a window of negative values has a negative maximum",
            lambda x, kernel_size=2, stride=2: (_pool_loops(x, kernel_size, stride, lambda win: np.maximum(win.max(axis=(2, 3)), 0)), None)),
    Mistake("the maximum is taken over the channels too: each channel is pooled on its own (max over the window's rows and columns only)",
            lambda x, kernel_size=2, stride=2: (_pool_loops(x, kernel_size, stride,
                                                            lambda win: np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], win.shape[:2])), None)),
    Mistake("the windows ignore the stride: window (i, j) starts at row i*stride and column j*stride",
            lambda x, kernel_size=2, stride=2: (_pool_loops(x, kernel_size, 1, lambda win: win.max(axis=(2, 3)))[
                :, :, : (x.shape[2] - kernel_size) // stride + 1, : (x.shape[3] - kernel_size) // stride + 1], None)),
)


def max_pool_backward_expected(x, kernel_size, stride, dout):
    return conv.max_pool_backward(dout, conv.max_pool_forward(x, kernel_size, stride)[1])


def run_max_pool_backward(function, forward, x, kernel_size, stride, dout):
    allowance = 2 * x.shape[0] * x.shape[1]  # 2 N C
    return _derived_backward("max_pool_backward", "max_pool_forward", function, forward, (x, kernel_size, stride), dout,
                             allowance)


def max_pool_numerical(forward, x, kernel_size, stride, dout):
    """Central differences of the student's forward; untrusted where two values are closer than a few steps (ties)."""
    values = np.sort(np.asarray(x, dtype=np.float64).ravel())
    if np.any(np.diff(values) < 1e-3):
        raise Untrusted("ties or near-ties: the maximum has no derivative there")
    return numerical_gradient_array(lambda v: forward(v, kernel_size, stride)[0], x.copy(), dout)


def _pool_backward_mistake(choose, *, accumulate=True, scale_by_dout=True):
    """A wrong max-pool backward from nnlib's cache ``(x, out, kernel_size, stride)``.

    ``choose(window, maximum)`` -> mask of the window's elements that get the gradient (a share each).
    """

    def backward(dout, cache):
        x, out, size, stride = cache
        dx = np.zeros_like(x)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for i in range(out.shape[2]):
                    for j in range(out.shape[3]):
                        rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
                        window = x[n, c, rows, cols]
                        mask = choose(window, out[n, c, i, j]).astype(x.dtype)
                        grad = mask * (dout[n, c, i, j] if scale_by_dout else 1)
                        if accumulate:
                            dx[n, c, rows, cols] += grad
                        else:
                            dx[n, c, rows, cols] = np.where(mask > 0, grad, dx[n, c, rows, cols])
        return dx

    return backward


def _first_max(window, maximum):
    mask = np.zeros(window.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(window), window.shape)] = True
    return mask


def _last_max(window, maximum):
    flat = window.ravel()
    mask = np.zeros(flat.shape, dtype=bool)
    mask[len(flat) - 1 - np.argmax(flat[::-1])] = True
    return mask.reshape(window.shape)


def _first_max_column_major(window, maximum):
    mask = np.zeros(window.shape, dtype=bool)
    u, v = np.unravel_index(np.argmax(window.T), window.T.shape)
    mask[v, u] = True
    return mask


MAX_POOL_BACKWARD_MISTAKES = (
    Mistake("every tied maximum gets the gradient: the rule here sends it to the first maximum of the window "
            "in row-major order (the one np.argmax picks), and 0 to the others",
            _pool_backward_mistake(lambda window, maximum: window == maximum)),
    Mistake("the gradient goes to the last tied maximum: the rule is the first one in row-major order (np.argmax)",
            _pool_backward_mistake(_last_max)),
    Mistake("the gradient goes to the first maximum in column-major order (argmax of the transposed window): "
            "the rule is row-major, rows first (np.argmax of the window as it is)", _pool_backward_mistake(_first_max_column_major)),
    Mistake("overlapping windows overwrite dx: an element that is the maximum of several windows gets the sum of their gradients",
            _pool_backward_mistake(_first_max, accumulate=False)),
    Mistake("the gradient is spread over the whole window: only the maximum influenced the output",
            _pool_backward_mistake(lambda window, maximum: np.full(window.shape, 1.0 / window.size))),
    Mistake("dout is missing: the maximum gets dout[n, c, i, j], not 1", _pool_backward_mistake(_first_max, scale_by_dout=False)),
)


# -- the catalogue ------------------------------------------------------------------------------------

EXERCISES = (
    Exercise("riemann_convolve", riemann_convolve_reference, riemann_cases(), mistakes=RIEMANN_MISTAKES,
             arg_names=("f", "g", "dt")),
    Exercise("convolve1d", conv.convolve1d, modes_cases(), mistakes=CONVOLVE_MISTAKES, arg_names=("x", "k", "mode")),
    Exercise("correlate1d", conv.correlate1d, modes_cases(), mistakes=CORRELATE_MISTAKES, arg_names=("x", "k", "mode")),
    Exercise(
        "conv_output_size",
        output_size_reference,
        output_size_cases(),
        solution=lambda size, kernel_size, stride, pad: conv.output_size(size, kernel_size, stride, pad, strict=True),
        outputs=("raised ValueError (1 if it did, 0 if not)", "the output size (0 when ValueError was raised)"),
        run=run_output_size,
        arg_names=("size", "kernel_size", "stride", "pad"),
        mistakes=OUTPUT_SIZE_MISTAKES,
    ),
    Exercise(
        "conv_forward",
        conv.conv2d_forward_naive,
        conv_cases(),
        outputs=("out",),
        run=_first("conv_forward"),
        arg_names=("x", "w", "b", "stride", "pad"),
        mistakes=CONV_FORWARD_MISTAKES,
    ),
    Exercise(
        "conv_backward",
        conv_backward_expected,
        conv_cases(with_dout=True),
        solution=conv.conv2d_backward_naive,
        outputs=("dx", "dw", "db"),
        run=run_conv_backward,
        forward="conv_forward",
        forward_reference=conv.conv2d_forward_naive,
        numerical=conv_numerical,
        arg_names=("x", "w", "b", "stride", "pad", "dout"),
        mistakes=CONV_BACKWARD_MISTAKES,
    ),
    Exercise(
        "conv_forward_fast",
        lambda x, w, b, stride, pad: conv.conv2d_forward(x, w, b, stride, pad)[0],
        conv_cases() + fast_cases(),
        run=run_fast,
        solution=lambda x, w, b, stride, pad: conv.conv2d_forward(x, w, b, stride, pad)[0],
        arg_names=("x", "w", "b", "stride", "pad"),
        mistakes=CONV_FAST_MISTAKES,
    ),
    Exercise(
        "max_pool_forward",
        conv.max_pool_forward,
        pool_cases(),
        outputs=("out",),
        run=_first("max_pool_forward"),
        arg_names=("x", "kernel_size", "stride"),
        mistakes=MAX_POOL_FORWARD_MISTAKES,
    ),
    Exercise(
        "max_pool_backward",
        max_pool_backward_expected,
        pool_cases(with_dout=True),
        solution=conv.max_pool_backward,
        run=run_max_pool_backward,
        forward="max_pool_forward",
        forward_reference=conv.max_pool_forward,
        numerical=max_pool_numerical,
        arg_names=("x", "kernel_size", "stride", "dout"),
        mistakes=MAX_POOL_BACKWARD_MISTAKES,
    ),
)


#: The functions this chapter asks students to write: nnlib's and numpy's convolutions, and everything here or in
#: nnlib that computes one of the answers.
FORBIDDEN = (
    conv.convolve1d,
    conv.correlate1d,
    conv.output_size,
    conv.conv2d_forward_naive,
    conv.conv2d_backward_naive,
    conv.conv2d_forward,
    conv.conv2d_backward,
    conv._im2col,
    conv.max_pool_forward,
    conv.max_pool_backward,
    np.convolve.__wrapped__,
    np.correlate.__wrapped__,
    # nnlib's private helpers that hold part of an answer ('same'/'valid' slices, output sizes, col2im)
    conv._crop,
    conv._out_size,
    conv._col2im,
    # this catalogue's own references and mistake builders: with their default options they are right answers
    # (a student could import them); the check runs them with the detector paused
    riemann_convolve_reference,
    _full_by_loops,
    _crop,
    output_size_reference,
    _conv_loops,
    conv_backward_expected,
    _conv_backward_loops,
    _fast_mistake(),
    _pool_loops,
    max_pool_backward_expected,
    _pool_backward_mistake(_first_max),
    _first_max,
)

CATALOGUE = Catalogue("05_convolution", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
