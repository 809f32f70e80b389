"""Convolution and pooling (the convolution chapter): 1-D convolution, 2-D convolution layers, pooling.

The convolution of two functions, ``(f * g)(t) = integral f(tau) g(t - tau) dtau``, becomes a sum when
``f`` and ``g`` are sampled on a grid: ``(f * g)[n] = sum_k f[k] g[n - k]`` (``convolve1d``). A CNN layer
computes the same sum without flipping the kernel, a cross-correlation ``sum_k f[n + k] g[k]``
(``correlate1d``), over two spatial axes and all input channels at once (``conv2d_*``).

The 2-D layer comes twice: ``conv2d_forward_naive`` / ``conv2d_backward_naive`` are loops written to be
read, with the shape of every intermediate; ``conv2d_forward`` / ``conv2d_backward`` compute the same
numbers with matrix products (im2col) and are what training uses. Tests check one against the other and
both against central differences.

Shape letters: N batch, C input channels, H/W input height/width, F filters (output channels),
KH/KW kernel height/width, H_out/W_out output height/width, B samples in one block of the batch.

Geometry, shared by convolution and pooling: the input is zero-padded by ``pad`` on each side, a window
slides in steps of ``stride``, and ``H_out = (H + 2*pad - KH) // stride + 1``. When the stride does not
tile the padded input exactly, the division floors (as in PyTorch): the last rows or columns that no
window reaches are ignored by the forward pass and get a zero gradient.

Every function keeps the floating dtype it is given (float32 in, float32 out; integers become float64;
mixed float32/float64 inputs compute in float64), returns gradients in the dtype of the input they belong
to, and never modifies its arguments.
"""

import numpy as np

from nnlib.validation import as_float_array, require_ndim, require_shape

_MODES = ("full", "same", "valid")


# ---------------------------------------------------------------------------------------------------------
# 1-D convolution and cross-correlation (teaching versions: plain loops over short signals)
# ---------------------------------------------------------------------------------------------------------


def _check_1d(f, g, mode):
    if mode not in _MODES:
        raise ValueError(f"mode must be one of 'full', 'same' or 'valid', got {mode!r}.")
    f, g = as_float_array(f, "f"), as_float_array(g, "g")
    require_ndim(f, 1, "f", "(len_f,)")
    require_ndim(g, 1, "g", "(len_g,)")
    if f.size == 0 or g.size == 0:
        raise ValueError(f"f and g must not be empty, got lengths {f.size} and {g.size}.")
    return f, g, np.result_type(f, g)


def _crop(full, len_f, len_g, mode, same_start):
    """Cut numpy's 'same' or 'valid' part out of a 'full' result of length len_f + len_g - 1."""
    if mode == "full":
        return full
    if mode == "same":  # max(len_f, len_g) values around the centre
        return full[same_start : same_start + max(len_f, len_g)]
    return full[min(len_f, len_g) - 1 : max(len_f, len_g)]  # 'valid': the shorter signal entirely inside


def convolve1d(f, g, mode="full"):
    """Discrete convolution, ``(f * g)[n] = sum_k f[k] g[n - k]``, the sampled ``integral f(tau) g(t - tau) dtau``.

    Sampling ``f`` and ``g`` at ``t = n * dt`` and replacing the integral over ``tau`` by a sum over the
    grid points ``tau = k * dt`` gives the formula above (times ``dt``, taken as 1 here): ``g`` is
    flipped (``n - k``) and slid along ``f``; each output is the sum of the products where the two
    overlap. Agrees with ``numpy.convolve`` in every mode.

    Parameters
    ----------
    f : ndarray of shape (len_f,)
    g : ndarray of shape (len_g,)
    mode : {"full", "same", "valid"}
        ``"full"``: every ``n`` where the signals overlap at all, ``len_f + len_g - 1`` values.
        ``"same"``: the central ``max(len_f, len_g)`` values of ``"full"``.
        ``"valid"``: only where the shorter signal lies entirely inside the longer one,
        ``max(len_f, len_g) - min(len_f, len_g) + 1`` values.

    Returns
    -------
    ndarray of shape (len_out,)

    >>> convolve1d(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> convolve1d(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]), mode="valid")
    array([2.5])
    """
    f, g, dtype = _check_1d(f, g, mode)
    full = np.zeros(f.size + g.size - 1, dtype=dtype)  # (len_f + len_g - 1,)
    for n in range(full.size):
        for k in range(f.size):
            if 0 <= n - k < g.size:
                full[n] += f[k] * g[n - k]
    return _crop(full, f.size, g.size, mode, same_start=(min(f.size, g.size) - 1) // 2)


def correlate1d(f, g, mode="valid"):
    """Cross-correlation, ``c[n] = sum_k f[n + k] g[k]``: ``g`` slides along ``f`` without being flipped.

    This is what a convolutional layer computes (and calls "convolution"): since the kernel is learnt,
    flipping it changes nothing but the name. ``correlate1d(f, g)`` equals ``convolve1d(f, g[::-1])``
    in modes ``"full"`` and ``"valid"``. Agrees with ``numpy.correlate`` in every mode, including
    numpy's centring of ``"same"`` when ``g`` is the longer signal.

    Parameters
    ----------
    f : ndarray of shape (len_f,)
    g : ndarray of shape (len_g,)
    mode : {"valid", "same", "full"}
        As in ``convolve1d``; ``"full"`` runs over the shifts ``n = -(len_g - 1), ..., len_f - 1``.

    Returns
    -------
    ndarray of shape (len_out,)

    >>> correlate1d(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, -1.0]))
    array([-1., -1., -1.])
    """
    f, g, dtype = _check_1d(f, g, mode)
    full = np.zeros(f.size + g.size - 1, dtype=dtype)  # (len_f + len_g - 1,): shifts -(len_g - 1) .. len_f - 1
    for i in range(full.size):
        n = i - (g.size - 1)
        for k in range(g.size):
            if 0 <= n + k < f.size:
                full[i] += f[n + k] * g[k]
    # numpy.correlate swaps the arguments when g is longer and reverses the result, which moves the
    # centre of "same" by one when the shorter length is even.
    short = min(f.size, g.size)
    same_start = (short - 1) // 2 if f.size >= g.size else short // 2
    return _crop(full, f.size, g.size, mode, same_start)


# ---------------------------------------------------------------------------------------------------------
# Validation shared by the 2-D layers
# ---------------------------------------------------------------------------------------------------------


def _require_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ValueError(f"{name} must be {kind}, got {value!r}.")
    return int(value)


def _out_size(size, window, stride, pad, axis):
    """Number of window positions along one axis; raises if the window does not fit even once."""
    if window > size + 2 * pad:
        raise ValueError(
            f"the window is larger than the padded input along {axis}: {window} > {size} + 2*{pad} "
            f"= {size + 2 * pad}; use a smaller window or more padding."
        )
    return (size + 2 * pad - window) // stride + 1


def output_size(size, kernel_size, stride=1, pad=0, *, strict=False):
    """Number of window positions along one axis, ``(size + 2*pad - kernel_size) // stride + 1``.

    The layers of this module floor the division (as PyTorch does): rows that no window reaches are
    ignored. With ``strict=True`` a stride that does not tile the padded input exactly is an error
    instead, the rule the convolution chapter asks students to implement.

    Parameters
    ----------
    size : int, positive, the input's height or width (H or W)
    kernel_size : int, positive, the window's side along that axis (KH or KW)
    stride : int, positive
    pad : int, non-negative, zeros added on each side
    strict : bool, raise ``ValueError`` when ``(size + 2*pad - kernel_size) % stride != 0``

    Returns
    -------
    int

    >>> output_size(16, 3, stride=1, pad=1), output_size(7, 3, stride=2), output_size(8, 3, stride=2)
    (16, 3, 3)
    >>> output_size(8, 3, stride=2, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: the stride does not fit: (size + 2*pad - kernel_size) = 8 + 2*0 - 3 = 5 is not a multiple of stride = 2.
    """
    size = _require_int(size, "size", 1)
    kernel_size = _require_int(kernel_size, "kernel_size", 1)
    stride = _require_int(stride, "stride", 1)
    pad = _require_int(pad, "pad", 0)
    out = _out_size(size, kernel_size, stride, pad, "this axis (kernel_size vs size)")
    span = size + 2 * pad - kernel_size
    if strict and span % stride:
        raise ValueError(
            f"the stride does not fit: (size + 2*pad - kernel_size) = {size} + 2*{pad} - {kernel_size} = {span} "
            f"is not a multiple of stride = {stride}."
        )
    return out


def _check_conv_inputs(x, w, b, stride, pad):
    """Validate conv2d arguments; return x, w, b in their common dtype, the output shape, their own dtypes."""
    x, w, b = as_float_array(x, "x"), as_float_array(w, "w"), as_float_array(b, "b")
    dtypes = (x.dtype, w.dtype, b.dtype)
    require_ndim(x, 4, "x", "(N, C, H, W)")
    require_ndim(w, 4, "w", "(F, C, KH, KW)")
    n, c, h, wd = x.shape
    f, cw, kh, kw = w.shape
    if cw != c:
        raise ValueError(
            f"x has {c} channels (x.shape[1]) but w expects {cw} (w.shape[1]); "
            f"w must have shape (F, {c}, KH, KW) for this x."
        )
    if b.shape != (f,):
        raise ValueError(f"b must have shape (F,) = ({f},), one bias per filter of w, got shape {b.shape}.")
    stride = _require_int(stride, "stride", 1)
    pad = _require_int(pad, "pad", 0)
    out_h = _out_size(h, kh, stride, pad, "the height (KH vs H)")
    out_w = _out_size(wd, kw, stride, pad, "the width (KW vs W)")
    dtype = np.result_type(x, w, b)
    cast = [a.astype(dtype, copy=False) for a in (x, w, b)]
    return (*cast, stride, pad, (n, f, out_h, out_w), dtypes)


def _check_dout(dout, shape, dtype):
    dout = as_float_array(dout, "dout")
    require_shape(dout, shape, "dout")
    return dout.astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------------------------
# 2-D convolution, naive loops (the teaching version)
# ---------------------------------------------------------------------------------------------------------


def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution layer by loops: ``out[n, f, i, j] = sum_{c,u,v} xp[n, c, i*s + u, j*s + v] w[f, c, u, v] + b[f]``.

    ``xp`` is ``x`` zero-padded by ``pad`` on each side of H and W, and ``s`` the stride. Like every CNN
    library, this is a cross-correlation (the kernel is not flipped).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    stride : int, positive
    pad : int, non-negative

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out), ``H_out = (H + 2*pad - KH) // stride + 1`` (same for W)
    cache : tuple, for ``conv2d_backward_naive``

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    >>> conv2d_forward_naive(x, w, np.array([0.5]))[0]
    array([[[[-3.5, -3.5],
             [-3.5, -3.5]]]])
    """
    x, w, b, stride, pad, out_shape, dtypes = _check_conv_inputs(x, w, b, stride, pad)
    n_batch, n_filters, out_h, out_w = out_shape
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2*pad, W + 2*pad)
    out = np.zeros(out_shape, dtype=x.dtype)  # (N, F, H_out, W_out)
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top : top + kh, left : left + kw]  # (C, KH, KW)
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad, dtypes)


def conv2d_backward_naive(dout, cache):
    """Gradients of the convolution layer by loops, the forward's sum read backwards.

    Each output ``out[n, f, i, j]`` used one window of ``xp`` and the filter ``w[f]``, so its upstream
    gradient ``dout[n, f, i, j]`` flows back as ``dxp[window] += dout * w[f]`` and ``dw[f] += dout *
    window``; ``db[f]`` sums ``dout[:, f]``. Windows overlap, hence ``+=``.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out)
    cache : from ``conv2d_forward_naive``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)

    >>> x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    >>> dx, dw, db = conv2d_backward_naive(np.ones((1, 1, 2, 2)), conv2d_forward_naive(x, w, b)[1])
    >>> dx[0, 0]  # how many windows cover each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    x, w, b, stride, pad, dtypes = cache
    n_batch, _, h, wd = x.shape
    n_filters, _, kh, kw = w.shape
    out_shape = (n_batch, n_filters, (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1)
    dout = _check_dout(dout, out_shape, x.dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2*pad, W + 2*pad)
    dxp = np.zeros_like(xp)  # (N, C, H + 2*pad, W + 2*pad)
    dw = np.zeros_like(w)  # (F, C, KH, KW)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_shape[2]):
                for j in range(out_shape[3]):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top : top + kh, left : left + kw]  # (C, KH, KW)
                    dxp[n, :, top : top + kh, left : left + kw] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * window
    dx = dxp[:, :, pad : pad + h, pad : pad + wd]  # (N, C, H, W): the padding's gradient is dropped
    return tuple(g.astype(dt, copy=False) for g, dt in zip((dx.copy(), dw, db), dtypes))


# ---------------------------------------------------------------------------------------------------------
# 2-D convolution, vectorised (im2col: the windows as the columns of a matrix, then one matrix product)
# ---------------------------------------------------------------------------------------------------------

#: The batch is processed in blocks of samples whose im2col matrix holds about this many values (512 KiB
#: in float64), so that each block's columns are still in the CPU cache when they are multiplied. On the
#: benchmark sizes (tests/benchmarks/bench_conv.py, 2 cores) 2**15 to 2**17 were within about 10% of each
#: other and 1.2x to 2.4x faster than one matrix for the whole batch (tens of MB written to memory and
#: read back, and a slower matrix product on operands that do not fit in cache).
_BLOCK_VALUES = 2**16


def _batch_blocks(n, values_per_sample):
    """Slices of the batch axis, each of at least one sample and about ``_BLOCK_VALUES`` im2col values."""
    step = max(1, _BLOCK_VALUES // values_per_sample)
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _im2col(x, kh, kw, stride, pad, out_h, out_w):
    """Windows of the padded ``x`` as the columns of a (C*KH*KW, N*H_out*W_out) matrix.

    Row ``(c, u, v)`` holds ``xp[n, c, i*stride + u, j*stride + v]`` for every output position ``(n, i, j)``.
    It is filled by KH*KW strided slice copies (one per kernel offset), in a channel-first layout so
    that the slices are plain ``[:, :, u::stride, v::stride]`` and the result needs no transpose.
    """
    n, c, h, w = x.shape
    xp = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=x.dtype)  # (C, N, H + 2p, W + 2p)
    xp[:, :, pad : pad + h, pad : pad + w] = x.transpose(1, 0, 2, 3)
    cols = np.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)  # (C, KH, KW, N, H_out, W_out)
    for u in range(kh):
        for v in range(kw):
            # (C, N, H_out, W_out): element (u, v) of every window
            cols[:, u, v] = xp[:, :, u : u + stride * out_h : stride, v : v + stride * out_w : stride]
    return cols.reshape(c * kh * kw, n * out_h * out_w)  # (C*KH*KW, N*H_out*W_out), no copy


def _col2im(dcols, x_shape, kh, kw, stride, pad, out_h, out_w):
    """Adjoint of ``_im2col``: add every column back onto the window it came from; returns (N, C, H, W).

    Overlapping windows add up. Done as KH*KW vectorised adds of strided slices (one per kernel
    offset), much faster than ``np.add.at`` on every index. The result is a transposed view.
    """
    n, c, h, w = x_shape
    dcols = dcols.reshape(c, kh, kw, n, out_h, out_w)  # (C, KH, KW, N, H_out, W_out)
    dxp = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)  # (C, N, H + 2p, W + 2p)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u : u + stride * out_h : stride, v : v + stride * out_w : stride] += dcols[:, u, v]
    return dxp[:, :, pad : pad + h, pad : pad + w].transpose(1, 0, 2, 3)  # (N, C, H, W)


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Convolution layer as a matrix product: ``out = w.reshape(F, C*KH*KW) @ im2col(x) + b``.

    Same result as ``conv2d_forward_naive`` (to rounding): each column of ``im2col(x)``, shape
    (C*KH*KW, N*H_out*W_out), is one window of the padded input, so one BLAS matrix product computes
    all the outputs. The batch goes through in blocks of samples (one product per block) so that the
    columns stay in the CPU cache.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    stride : int, positive
    pad : int, non-negative

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out), C-contiguous
    cache : tuple, for ``conv2d_backward`` (holds ``x`` and ``w``, not the im2col matrix: the backward
        pass rebuilds it block by block, which is cheaper than keeping C*KH*KW values per output pixel)

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    >>> conv2d_forward(x, w, np.array([0.5]), pad=1)[0][0, 0]
    array([[ 0.5, -0.5, -1.5,  0.5],
           [-2.5, -3.5, -3.5,  2.5],
           [-5.5, -3.5, -3.5,  5.5],
           [ 0.5,  6.5,  7.5,  8.5]])
    """
    x, w, b, stride, pad, out_shape, dtypes = _check_conv_inputs(x, w, b, stride, pad)
    n, f, out_h, out_w = out_shape
    _, c, kh, kw = w.shape
    w_mat = w.reshape(f, c * kh * kw)  # (F, C*KH*KW)
    out = np.empty(out_shape, dtype=x.dtype)  # (N, F, H_out, W_out)
    for block in _batch_blocks(n, c * kh * kw * out_h * out_w):  # B samples at a time
        cols = _im2col(x[block], kh, kw, stride, pad, out_h, out_w)  # (C*KH*KW, B*H_out*W_out)
        out_block = (w_mat @ cols).reshape(f, -1, out_h, out_w)  # (F, B, H_out, W_out)
        np.add(out_block.transpose(1, 0, 2, 3), b[:, None, None], out=out[block])  # (B, F, H_out, W_out)
    return out, (x, w, stride, pad, dtypes)


def conv2d_backward(dout, cache):
    """Gradients of ``conv2d_forward``: ``dw = dout @ cols.T``, ``dx = col2im(w.T @ dout)``, ``db = sum(dout)``.

    With ``dout`` as an (F, N*H_out*W_out) matrix, the forward's product ``out = w @ cols`` gives
    ``dw = dout @ cols.T`` (summed over the blocks of the batch) and ``dcols = w.T @ dout``; ``col2im``
    adds each column of ``dcols`` back onto the window of ``x`` it came from (overlapping windows add up).

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out)
    cache : from ``conv2d_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)

    >>> x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    >>> dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), conv2d_forward(x, w, b)[1])
    >>> dw[0, 0], db
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    x, w, stride, pad, dtypes = cache
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out_h, out_w = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    dout = _check_dout(dout, (n, f, out_h, out_w), x.dtype)
    w_mat = w.reshape(f, c * kh * kw)  # (F, C*KH*KW)
    dw_mat = np.zeros_like(w_mat)  # (F, C*KH*KW)
    dx = np.empty(x.shape, dtype=x.dtype)  # (N, C, H, W)
    for block in _batch_blocks(n, c * kh * kw * out_h * out_w):  # B samples at a time
        cols = _im2col(x[block], kh, kw, stride, pad, out_h, out_w)  # (C*KH*KW, B*H_out*W_out)
        dout_mat = np.ascontiguousarray(dout[block].transpose(1, 0, 2, 3)).reshape(f, -1)  # (F, B*H_out*W_out)
        dw_mat += dout_mat @ cols.T  # (F, C*KH*KW)
        dcols = w_mat.T @ dout_mat  # (C*KH*KW, B*H_out*W_out)
        dx[block] = _col2im(dcols, x[block].shape, kh, kw, stride, pad, out_h, out_w)  # (B, C, H, W)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    return tuple(g.astype(dt, copy=False) for g, dt in zip((dx, dw_mat.reshape(w.shape), db), dtypes))


# ---------------------------------------------------------------------------------------------------------
# Pooling (vectorised: one strided slice per offset inside the window)
# ---------------------------------------------------------------------------------------------------------


def _pool_kernel_size(kernel_size, size):
    """``kernel_size``, or the older keyword ``size`` (kept until every caller uses ``kernel_size``)."""
    if size is None:
        return kernel_size
    if kernel_size is not None:
        raise ValueError(f"give the window's side once, as kernel_size (size is its old name), got kernel_size={kernel_size!r} and size={size!r}.")
    return size


def _check_pool_inputs(x, kernel_size, stride):
    x = as_float_array(x, "x")
    require_ndim(x, 4, "x", "(N, C, H, W)")
    size = _require_int(kernel_size, "kernel_size", 1)
    stride = _require_int(stride, "stride", 1)
    out_h = _out_size(x.shape[2], size, stride, 0, "the height (kernel_size vs H)")
    out_w = _out_size(x.shape[3], size, stride, 0, "the width (kernel_size vs W)")
    return x, size, stride, out_h, out_w


def _window_offsets(size, stride, out_h, out_w):
    """For each offset (u, v) inside a window, in row-major order: the slices picking it in every window."""
    for u in range(size):
        for v in range(size):
            yield np.s_[:, :, u : u + stride * out_h : stride, v : v + stride * out_w : stride]


def max_pool_forward(x, kernel_size=None, stride=2, *, size=None):
    """Max pooling: ``out[n, c, i, j] = max_{u,v < kernel_size} x[n, c, i*stride + u, j*stride + v]``.

    Ties: when several elements of a window share its maximum, ``max_pool_backward`` sends the whole
    gradient to the first of them in row-major order within the window (top-most row, then left-most
    column; the one ``np.argmax`` would pick), and none to the others. No padding; a stride that does
    not tile H or W floors (see the module docstring).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int, positive, window height and width (default 2)
    stride : int, positive; ``stride < kernel_size`` gives overlapping windows
    size : the old name of ``kernel_size``, still accepted

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out), ``H_out = (H - kernel_size) // stride + 1`` (same for W)
    cache : tuple, for ``max_pool_backward``

    >>> x = np.array([[[[1.0, 2.0, 0.0, 0.0], [4.0, 3.0, 0.0, -1.0]]]])
    >>> max_pool_forward(x)[0]
    array([[[[4., 0.]]]])
    """
    kernel_size = _pool_kernel_size(kernel_size, size)
    x, size, stride, out_h, out_w = _check_pool_inputs(x, 2 if kernel_size is None else kernel_size, stride)
    out = None
    for window_slice in _window_offsets(size, stride, out_h, out_w):
        candidate = x[window_slice]  # (N, C, H_out, W_out): element (u, v) of every window
        out = candidate.copy() if out is None else np.maximum(out, candidate, out=out)
    return out, (x, out, size, stride)


def max_pool_backward(dout, cache):
    """Gradient of max pooling: each window's ``dout`` goes to the element that was its maximum.

    Only one element per window receives gradient, the first maximum in row-major order (ties); the
    rest get 0. With overlapping windows (``stride < size``) an element that is the maximum of several
    windows receives the sum of their gradients.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H_out, W_out)
    cache : from ``max_pool_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    >>> x = np.array([[[[1.0, 2.0], [4.0, 4.0]]]])
    >>> max_pool_backward(np.array([[[[10.0]]]]), max_pool_forward(x)[1])
    array([[[[ 0.,  0.],
             [10.,  0.]]]])
    """
    x, out, size, stride = cache
    dout = _check_dout(dout, out.shape, x.dtype)
    dx = np.zeros_like(x)  # (N, C, H, W)
    unclaimed = np.ones(out.shape, dtype=bool)  # (N, C, H_out, W_out): windows whose maximum is not yet found
    for window_slice in _window_offsets(size, stride, *out.shape[2:]):  # row-major offsets (u, v)
        is_max = x[window_slice] == out  # (N, C, H_out, W_out): element (u, v) of each window is its maximum
        is_max &= unclaimed  # ... and no earlier element was: the first maximum takes the gradient
        unclaimed &= ~is_max
        dx[window_slice] += np.where(is_max, dout, 0)
    return dx


def avg_pool_forward(x, kernel_size=None, stride=2, *, size=None):
    """Average pooling: ``out[n, c, i, j] = mean_{u,v < kernel_size} x[n, c, i*stride + u, j*stride + v]``.

    No padding; a stride that does not tile H or W floors (see the module docstring).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int, positive, window height and width (default 2)
    stride : int, positive
    size : the old name of ``kernel_size``, still accepted

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out), ``H_out = (H - kernel_size) // stride + 1`` (same for W)
    cache : tuple, for ``avg_pool_backward``

    >>> avg_pool_forward(np.arange(8.0).reshape(1, 1, 2, 4))[0]
    array([[[[2.5, 4.5]]]])
    """
    kernel_size = _pool_kernel_size(kernel_size, size)
    x, size, stride, out_h, out_w = _check_pool_inputs(x, 2 if kernel_size is None else kernel_size, stride)
    out = np.zeros((x.shape[0], x.shape[1], out_h, out_w), dtype=x.dtype)  # (N, C, H_out, W_out)
    for window_slice in _window_offsets(size, stride, out_h, out_w):
        out += x[window_slice]
    out /= size * size
    return out, (x.shape, x.dtype, size, stride)


def avg_pool_backward(dout, cache):
    """Gradient of average pooling: every element of a window gets ``dout / kernel_size**2`` from it.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H_out, W_out)
    cache : from ``avg_pool_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    >>> avg_pool_backward(np.array([[[[4.0]]]]), avg_pool_forward(np.zeros((1, 1, 2, 2)))[1])
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    x_shape, dtype, size, stride = cache
    n, c, h, w = x_shape
    out_shape = (n, c, (h - size) // stride + 1, (w - size) // stride + 1)
    share = _check_dout(dout, out_shape, dtype) / (size * size)  # (N, C, H_out, W_out)
    dx = np.zeros(x_shape, dtype=dtype)  # (N, C, H, W)
    for window_slice in _window_offsets(size, stride, out_h=out_shape[2], out_w=out_shape[3]):
        dx[window_slice] += share
    return dx
