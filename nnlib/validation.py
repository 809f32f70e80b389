"""Input checks that turn a student's wrong shape or dtype into one clear sentence.

Every public nnlib function validates what students get wrong (rank, matching sizes, dtype) with
these helpers, so the error names the argument, the expected and the actual value.
"""

import numpy as np


def as_float_array(x, name):
    """Return ``x`` as a floating ndarray, keeping float32/float64; integers become float64.

    >>> as_float_array([1, 2], "x").dtype
    dtype('float64')
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}.")


def require_ndim(x, ndim, name, layout):
    """Raise ValueError unless ``x.ndim == ndim``; ``layout`` names the axes, e.g. ``"(N, D)"``.

    >>> require_ndim(np.zeros((2, 3)), 1, "b", "(M,)")
    Traceback (most recent call last):
        ...
    ValueError: b must have shape (M,) (1-D), got shape (2, 3) (2-D).
    """
    if np.ndim(x) != ndim:
        raise ValueError(
            f"{name} must have shape {layout} ({ndim}-D), got shape {np.shape(x)} ({np.ndim(x)}-D)."
        )


def require_shape(x, expected, name):
    """Raise ValueError unless ``x.shape == expected`` (``None`` in ``expected`` matches any size).

    >>> require_shape(np.zeros((4, 3)), (4, 2), "dout")
    Traceback (most recent call last):
        ...
    ValueError: dout must have shape (4, 2), got shape (4, 3).
    """
    shape = np.shape(x)
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        shown = "(" + ", ".join("any" if e is None else str(e) for e in expected) + (",)" if len(expected) == 1 else ")")
        raise ValueError(f"{name} must have shape {shown}, got shape {shape}.")


def require_same_shape(a, b, name_a, name_b):
    """Raise ValueError unless ``a`` and ``b`` have the same shape (no broadcasting)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {np.shape(a)} and {np.shape(b)}."
        )


def require_labels(y, n, num_classes, name="y"):
    """Raise ValueError unless ``y`` is an integer array of shape (n,) with values in [0, num_classes)."""
    y = np.asarray(y)
    require_shape(y, (n,), name)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name} must hold class labels in [0, {num_classes}), got values from {y.min()} to {y.max()}."
        )


def require_probability(p, name):
    """Raise ValueError unless ``0 <= p < 1``."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}.")


def require_generator(rng, name="rng"):
    """Raise TypeError unless ``rng`` is a ``numpy.random.Generator``.

    nnlib draws random numbers only from a generator passed in, never from numpy's global state,
    so ``None``, a seed or the ``np.random`` module are refused with the way to make one.

    >>> require_generator(np.random.default_rng(0))
    >>> require_generator(0)
    Traceback (most recent call last):
        ...
    TypeError: rng must be a numpy.random.Generator, e.g. np.random.default_rng(0), got int.
    """
    if not isinstance(rng, np.random.Generator):
        actual = "None" if rng is None else type(rng).__name__
        raise TypeError(
            f"{name} must be a numpy.random.Generator, e.g. np.random.default_rng(0), got {actual}."
        )
