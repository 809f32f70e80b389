"""Regularisation against overfitting: the L2 penalty and (inverted) dropout (chapter 4, regularization).

Shape letters: N batch, D features (dropout accepts any shape). ``drop_prob`` is the probability
of *dropping* a unit, never of keeping it. Randomness comes only from the keyword ``rng``, a
``numpy.random.Generator``; numpy's global random state is never read or changed. Nothing
modifies its arguments. ``training`` must be a bool (a string such as ``"eval"`` would be truthy).
A backward returns the dtype of its forward's input, whatever the dtype of ``dout``.
"""

import numbers

import numpy as np

from nnlib.validation import as_float_array, require_generator, require_probability, require_shape


def _require_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")


def _require_lam(lam):
    if isinstance(lam, (bool, np.bool_)) or not isinstance(lam, numbers.Real) or not lam >= 0:
        raise ValueError(f"lam must be a number >= 0, got {lam!r}.")


def l2_penalty(weights, lam):
    """L2 (ridge) penalty, ``lam * sum_j theta_j**2`` over every entry of every weight array.

    Parameters
    ----------
    weights : ndarray, or list/tuple of ndarrays of any shapes
        Usually the weight matrices only, not the biases.
    lam : float >= 0, the regularisation strength (lambda)

    Returns
    -------
    float

    >>> l2_penalty([np.array([1.0, 2.0]), np.array([[3.0]])], lam=0.1)
    1.4
    """
    _require_lam(lam)
    arrays = weights if isinstance(weights, (list, tuple)) else [weights]
    total = 0.0
    for i, w in enumerate(arrays):
        w = as_float_array(w, f"weights[{i}]")
        total += float(np.sum(w * w, dtype=np.float64))
    return lam * total


def l2_penalty_gradient(w, lam):
    """Gradient of ``lam * sum(w**2)`` with respect to ``w``: ``2 * lam * w``.

    Parameters
    ----------
    w : ndarray of any shape
    lam : float >= 0

    Returns
    -------
    ndarray of the shape and dtype of ``w``

    >>> l2_penalty_gradient(np.array([1.0, -2.0]), lam=0.5)
    array([ 1., -2.])
    """
    _require_lam(lam)
    w = as_float_array(w, "w")
    return (2 * lam * w).astype(w.dtype, copy=False)


def dropout_forward(x, drop_prob, *, training, rng=None):
    """Inverted dropout: ``out = x * mask / (1 - drop_prob)``, ``mask_i ~ Bernoulli(1 - drop_prob)``.

    In training, each unit is zeroed with probability ``drop_prob`` and the survivors are scaled
    by ``1 / (1 - drop_prob)``, so ``E[out] = x`` and nothing needs rescaling at test time. When
    not training, dropout is the identity and needs no ``rng``.

    Parameters
    ----------
    x : ndarray of any shape, e.g. (N, D)
    drop_prob : float in [0, 1), the probability of dropping a unit
    training : bool, keyword only
    rng : numpy.random.Generator, keyword only; required when training

    Returns
    -------
    out : ndarray of the shape and dtype of ``x`` (a new array, also when not training)
    cache : opaque, for ``dropout_backward``

    >>> x = np.ones((2, 4))
    >>> out, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(0))
    >>> sorted(set(out.ravel().tolist()))
    [0.0, 2.0]
    >>> dropout_forward(x, 0.5, training=False)[0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    x = as_float_array(x, "x")
    require_probability(drop_prob, "drop_prob")
    _require_bool(training, "training")
    if not training:
        return x.copy(), (x.shape, x.dtype, None)
    require_generator(rng)  # required only when training
    keep = rng.random(x.shape) >= drop_prob  # True with probability 1 - drop_prob
    mask = keep.astype(x.dtype) / x.dtype.type(1 - drop_prob)  # 0 or 1/(1 - drop_prob)
    return x * mask, (x.shape, x.dtype, mask)


def dropout_backward(dout, cache):
    """Gradient of dropout: ``dx = dout * mask / (1 - drop_prob)``, the same mask as the forward.

    When the forward was not training, ``dx = dout``.

    Parameters
    ----------
    dout : ndarray of the shape of ``x``
    cache : from ``dropout_forward``

    Returns
    -------
    dx : ndarray of the shape and dtype of ``x`` (whatever the dtype of ``dout``)

    >>> out, cache = dropout_forward(np.ones(3), 0.25, training=False)
    >>> dropout_backward(np.array([1.0, 2.0, 3.0]), cache)
    array([1., 2., 3.])
    """
    shape, dtype, mask = cache
    dout = as_float_array(dout, "dout")
    require_shape(dout, shape, "dout")
    if mask is None:
        return dout.astype(dtype, copy=True)
    return (dout * mask).astype(dtype, copy=False)
