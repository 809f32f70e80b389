"""Activation functions and their derivatives (chapter 1), stable for inputs of any magnitude.

Shape letters: N batch, K classes (softmax's axis); elementwise activations take any shape.

Plain functions compute a value: ``sigmoid(x)``, ``relu(x)``, ``softmax(x, axis)``... Each
elementwise activation comes with its elementwise derivative ``f_derivative(x)`` (df/dx at the
input x). As layers they follow nnlib's convention (see ``nnlib``), ``x_forward(...) -> (out, cache)``
and ``x_backward(dout, cache) -> dx``:

- ``elementwise_forward(x, name, **options)`` / ``elementwise_backward(dout, cache)``, ``dx = dout * f'(x)``;
- ``softmax_forward(x, axis)`` / ``softmax_backward(dout, cache)`` and
  ``log_softmax_forward(x, axis)`` / ``log_softmax_backward(dout, cache)``, vector-Jacobian products
  that never build the K x K Jacobian.

Every function accepts an array of any shape, computes in its floating dtype and returns it
(integers become float64); a backward returns the dtype of its forward's input, whatever the
dtype of ``dout``. Nothing modifies its input. A bad option (an unknown activation or option
name, an axis that is not one of x's) raises ValueError. No overflow or NaN for inputs of
magnitude 1e3 and beyond.
"""

import numpy as np

from nnlib.validation import as_float_array, require_same_shape


def sigmoid(x):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``.

    Computed from ``exp(-|x|)``, which never overflows.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(x):
    """``sigmoid(x) * (1 - sigmoid(x))``; never exceeds 0.25 (at x = 0).

    >>> sigmoid_derivative(np.array([0.0]))
    array([0.25])
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x):
    """Hyperbolic tangent, ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))``, in (-1, 1).

    >>> tanh(np.array([0.0, 1000.0]))
    array([0., 1.])
    """
    return np.tanh(as_float_array(x, "x"))


def tanh_derivative(x):
    """``1 - tanh(x)**2``.

    >>> tanh_derivative(np.array([0.0]))
    array([1.])
    """
    t = tanh(x)
    return 1 - t * t


def relu(x):
    """Rectified linear unit, ``max(0, x)``.

    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0)


def relu_derivative(x):
    """1 where ``x > 0``, else 0 (0 at the kink x = 0, by convention).

    >>> relu_derivative(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 1.])
    """
    x = as_float_array(x, "x")
    return (x > 0).astype(x.dtype)


def leaky_relu(x, slope=0.01):
    """``x`` where ``x > 0``, else ``slope * x``.

    >>> leaky_relu(np.array([-2.0, 3.0]), slope=0.1)
    array([-0.2,  3. ])
    """
    x = as_float_array(x, "x")
    return np.where(x > 0, x, slope * x).astype(x.dtype, copy=False)


def leaky_relu_derivative(x, slope=0.01):
    """1 where ``x > 0``, else ``slope`` (``slope`` at the kink x = 0).

    >>> leaky_relu_derivative(np.array([-2.0, 0.0, 3.0]), slope=0.1)
    array([0.1, 0.1, 1. ])
    """
    x = as_float_array(x, "x")
    return np.where(x > 0, 1, slope).astype(x.dtype)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    ``exp`` only ever sees ``min(x, 0)``, so large positive inputs cannot overflow.

    >>> elu(np.array([-1000.0, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    """
    x = as_float_array(x, "x")
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_derivative(x, alpha=1.0):
    """1 where ``x > 0``, else ``alpha * exp(x)``.

    >>> elu_derivative(np.array([0.0, 2.0]))
    array([1., 1.])
    """
    x = as_float_array(x, "x")
    return np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)


def softplus(x):
    """``log(1 + exp(x))``, a smooth ReLU, computed as ``max(x, 0) + log1p(exp(-|x|))``.

    >>> softplus(np.array([-1000.0, 0.0, 1000.0])).round(4).tolist()
    [0.0, 0.6931, 1000.0]
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_derivative(x):
    """The derivative of softplus is the sigmoid.

    >>> softplus_derivative(np.array([0.0]))
    array([0.5])
    """
    return sigmoid(x)


def _require_axis(x, axis):
    """Raise ValueError unless ``axis`` is one integer axis of ``x`` (negative counts from the end)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an integer (the axis of the classes), got {axis!r}.")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim}) for x of shape {x.shape}, got {axis}.")


def _require_cache(cache, forward, backward, output):
    """The ``(output, axis)`` pair a softmax-like forward returned, or a TypeError saying what to pass."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[0], np.ndarray)):
        got = f"an array of shape {cache.shape}" if isinstance(cache, np.ndarray) else type(cache).__name__
        raise TypeError(
            f"{backward}(dout, cache) takes the cache that {forward}(x) returned as its second value, got {got} "
            f"(pass the cache, not {output})."
        )
    return cache


def softmax(x, axis=-1):
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``; each slice along ``axis`` sums to 1.

    The maximum is subtracted first: softmax is unchanged by a shift and ``exp`` then sees
    only values <= 0.

    Parameters
    ----------
    x : ndarray of shape (N, K) (any shape works; ``axis`` holds the classes)
    axis : int, default -1

    Returns
    -------
    s : ndarray of the shape and dtype of ``x``

    >>> softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    x = as_float_array(x, "x")
    _require_axis(x, axis)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_forward(x, axis=-1):
    """Softmax as a layer: ``softmax(x, axis)`` and the cache its backward pass needs.

    Parameters
    ----------
    x : ndarray of shape (N, K) (any shape works; ``axis`` holds the classes)
    axis : int, default -1

    Returns
    -------
    s : ndarray of the shape and dtype of ``x``
    cache : opaque, for ``softmax_backward``

    >>> s, cache = softmax_forward(np.array([[0.0, np.log(3.0)]]))
    >>> s
    array([[0.25, 0.75]])
    >>> softmax_backward(np.array([[1.0, 0.0]]), cache)
    array([[ 0.1875, -0.1875]])
    """
    s = softmax(x, axis=axis)
    return s, (s, axis)


def softmax_backward(dout, cache):
    """Vector-Jacobian product of softmax: ``dx = s * (dout - sum(dout * s))`` along the forward's axis.

    The Jacobian ``ds_i/dx_j = s_i (delta_ij - s_j)`` is never built.

    Parameters
    ----------
    dout : ndarray of the shape of ``s``, gradient of the loss with respect to ``s``
    cache : what ``softmax_forward`` returned

    Returns
    -------
    dx : ndarray of the shape of ``s`` and the dtype of the forward's ``x``, whatever the dtype of ``dout``

    >>> _, cache = softmax_forward(np.array([[0.0, 0.0]]))
    >>> softmax_backward(np.array([[1.0, 1.0]]), cache)
    array([[0., 0.]])
    """
    s, axis = _require_cache(cache, "softmax_forward", "softmax_backward", "the probabilities s")
    dout = as_float_array(dout, "dout")
    require_same_shape(dout, s, "dout", "s")
    dx = s * (dout - np.sum(dout * s, axis=axis, keepdims=True))
    return dx.astype(s.dtype, copy=False)


def log_softmax(x, axis=-1):
    """``x_i - log(sum_j exp(x_j))`` along ``axis``, by the log-sum-exp trick.

    >>> np.round(log_softmax(np.array([[0.0, 1000.0]])), 6)
    array([[-1000.,     0.]])
    """
    x = as_float_array(x, "x")
    _require_axis(x, axis)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_forward(x, axis=-1):
    """Log-softmax as a layer: ``log_softmax(x, axis)`` and the cache its backward pass needs.

    Returns
    -------
    log_s : ndarray of the shape and dtype of ``x``
    cache : opaque, for ``log_softmax_backward``

    >>> log_s, cache = log_softmax_forward(np.log(np.array([[0.25, 0.75]])))
    >>> log_softmax_backward(np.array([[1.0, 0.0]]), cache)
    array([[ 0.75, -0.75]])
    """
    log_s = log_softmax(x, axis=axis)
    return log_s, (log_s, axis)


def log_softmax_backward(dout, cache):
    """Vector-Jacobian product of log-softmax: ``dx = dout - exp(log_s) * sum(dout)`` along the forward's axis.

    Parameters
    ----------
    dout : ndarray of the shape of ``log_s``
    cache : what ``log_softmax_forward`` returned

    Returns
    -------
    dx : ndarray of the shape of ``log_s`` and the dtype of the forward's ``x``, whatever the dtype of ``dout``
    """
    log_s, axis = _require_cache(cache, "log_softmax_forward", "log_softmax_backward", "log_s")
    dout = as_float_array(dout, "dout")
    require_same_shape(dout, log_s, "dout", "log_s")
    dx = dout - np.exp(log_s) * np.sum(dout, axis=axis, keepdims=True)
    return dx.astype(log_s.dtype, copy=False)


#: Elementwise activations by name: (function, derivative).
ELEMENTWISE = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
    "softplus": (softplus, softplus_derivative),
}

#: The options each elementwise activation accepts (as keywords of ``elementwise_forward``).
OPTIONS = {"leaky_relu": ("slope",), "elu": ("alpha",)}


def elementwise_forward(x, name, **options):
    """Apply the activation ``name`` (a key of ``ELEMENTWISE``) and keep what backward needs.

    Parameters
    ----------
    x : ndarray of any shape
    name : str, e.g. ``"relu"``
    **options : the activation's own options, ``slope`` for leaky_relu, ``alpha`` for elu

    Returns
    -------
    out : ndarray of the shape and dtype of ``x``
    cache : opaque, for ``elementwise_backward``

    >>> out, cache = elementwise_forward(np.array([-1.0, 2.0]), "relu")
    >>> elementwise_backward(np.array([5.0, 5.0]), cache)
    array([0., 5.])
    """
    if name not in ELEMENTWISE:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ELEMENTWISE)}.")
    unknown = sorted(set(options) - set(OPTIONS.get(name, ())))
    if unknown:
        accepted = ", ".join(OPTIONS.get(name, ())) or "no options"
        raise ValueError(f"{name} has no option {unknown[0]!r}; it accepts {accepted}.")
    x = as_float_array(x, "x")
    function, _ = ELEMENTWISE[name]
    return function(x, **options), (x, name, options)


def elementwise_backward(dout, cache):
    """``dx = dout * f'(x)``: the gradient with respect to the input of ``elementwise_forward``.

    Returns
    -------
    dx : ndarray of the shape of ``x`` and the dtype of ``x``, whatever the dtype of ``dout``
    """
    x, name, options = cache
    dout = as_float_array(dout, "dout")
    require_same_shape(dout, x, "dout", "x")
    _, derivative = ELEMENTWISE[name]
    return (dout * derivative(x, **options)).astype(x.dtype, copy=False)
