"""Weight initialisation: Xavier/Glorot and He/Kaiming, uniform and normal (chapter 4, regularization).

Shape letters: D inputs, M outputs (dense weights of shape (D, M)); F filters, C channels,
KH/KW kernel height/width (convolution weights of shape (F, C, KH, KW)).

The scale comes from the fans, the number of inputs and outputs each weight touches:
Xavier keeps the variance of activations and of gradients about constant through a linear or
tanh layer, ``Var(w) = 2 / (fan_in + fan_out)``; He compensates for ReLU zeroing half its inputs,
``Var(w) = 2 / fan_in``. A uniform distribution on ``[-a, a]`` has variance ``a**2 / 3``.
Randomness comes only from the keyword-only ``rng`` argument; the same seed gives the same weights.
``dtype`` must be a floating dtype (float32 or float64); anything else raises ValueError.
"""

import numpy as np

from nnlib.validation import require_generator


def fans(shape):
    """Fan-in and fan-out of a weight of the given shape.

    ``(D, M) -> (D, M)``; ``(F, C, KH, KW) -> (C * KH * KW, F * KH * KW)``.

    Parameters
    ----------
    shape : tuple of int, of length 2 (dense) or 4 (convolution)

    Returns
    -------
    fan_in, fan_out : int

    >>> fans((784, 100))
    (784, 100)
    >>> fans((16, 3, 5, 5))
    (75, 400)
    """
    shape = tuple(shape)
    if not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
        raise ValueError(f"shape must hold positive integers, got {shape}.")
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    if len(shape) == 4:
        f, c, kh, kw = shape
        return int(c * kh * kw), int(f * kh * kw)
    raise ValueError(
        f"shape must be (D, M) for a dense weight or (F, C, KH, KW) for a convolution weight, "
        f"got {shape} ({len(shape)}-D)."
    )


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as np.float32 or np.float64, got {dtype}.")
    return dtype


def _uniform(shape, limit, rng, dtype):
    require_generator(rng)
    dtype = _check_dtype(dtype)
    return rng.uniform(-limit, limit, size=tuple(shape)).astype(dtype, copy=False)


def _normal(shape, std, rng, dtype):
    require_generator(rng)
    dtype = _check_dtype(dtype)
    return (std * rng.standard_normal(size=tuple(shape))).astype(dtype, copy=False)


def xavier_uniform(shape, *, rng, dtype=np.float64):
    """Xavier/Glorot uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple (D, M) or (F, C, KH, KW)
    rng : numpy.random.Generator, keyword only
    dtype : floating dtype of the result

    Returns
    -------
    ndarray of shape ``shape``, variance ``2 / (fan_in + fan_out)``

    >>> w = xavier_uniform((2, 4), rng=np.random.default_rng(0))
    >>> w.shape, bool(np.abs(w).max() <= 1.0)
    ((2, 4), True)
    """
    fan_in, fan_out = fans(shape)
    return _uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def xavier_normal(shape, *, rng, dtype=np.float64):
    """Xavier/Glorot normal: ``N(0, std**2)`` with ``std = sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple (D, M) or (F, C, KH, KW)
    rng : numpy.random.Generator, keyword only
    dtype : floating dtype of the result

    Returns
    -------
    ndarray of shape ``shape`` (not truncated)

    >>> xavier_normal((3, 5), rng=np.random.default_rng(0), dtype=np.float32).dtype
    dtype('float32')
    """
    fan_in, fan_out = fans(shape)
    return _normal(shape, np.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def he_normal(shape, *, rng, dtype=np.float64):
    """He/Kaiming normal, for ReLU layers: ``N(0, std**2)`` with ``std = sqrt(2 / fan_in)``.

    Parameters
    ----------
    shape : tuple (D, M) or (F, C, KH, KW)
    rng : numpy.random.Generator, keyword only
    dtype : floating dtype of the result

    Returns
    -------
    ndarray of shape ``shape`` (not truncated)

    >>> he_normal((8, 2, 3, 3), rng=np.random.default_rng(0)).shape
    (8, 2, 3, 3)
    """
    fan_in, _ = fans(shape)
    return _normal(shape, np.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape, *, rng, dtype=np.float64):
    """He/Kaiming uniform, for ReLU layers: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``.

    Parameters
    ----------
    shape : tuple (D, M) or (F, C, KH, KW)
    rng : numpy.random.Generator, keyword only
    dtype : floating dtype of the result

    Returns
    -------
    ndarray of shape ``shape``, variance ``2 / fan_in``

    >>> w = he_uniform((6, 3), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 1.0)
    True
    """
    fan_in, _ = fans(shape)
    return _uniform(shape, np.sqrt(6.0 / fan_in), rng, dtype)
