"""Activation functions and their derivatives (chapter 1), stable for inputs of any magnitude.

Elementwise activations come as a pair ``f(x)`` and ``f_derivative(x)`` (the elementwise
derivative df/dx); their backward pass is ``dout * f_derivative(x)``, packaged by
``elementwise_forward`` / ``elementwise_backward``. Softmax and log-softmax act along an axis,
so their backward is a vector-Jacobian product.

Every function accepts an array of any shape, keeps its floating dtype (integers become
float64) and never modifies its input. No overflow or NaN for inputs of magnitude 1e3 and beyond.
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


def softmax(x, axis=-1):
    """``exp(x_i) / sum_j exp(x_j)`` along ``axis``; each slice along ``axis`` sums to 1.

    The maximum is subtracted first: softmax is unchanged by a shift and ``exp`` then sees
    only values <= 0.

    Parameters
    ----------
    x : ndarray of shape (N, K) (any shape works; ``axis`` holds the classes)

    >>> softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    x = as_float_array(x, "x")
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dout, s, axis=-1):
    """Vector-Jacobian product of softmax: ``s * (dout - sum(dout * s))`` along ``axis``.

    The Jacobian ``ds_i/dx_j = s_i (delta_ij - s_j)`` is never built.

    Parameters
    ----------
    dout : ndarray of shape (N, K), gradient of the loss with respect to ``s``
    s : ndarray of shape (N, K), the softmax output

    Returns
    -------
    dx : ndarray of shape (N, K)

    >>> softmax_backward(np.array([[1.0, 1.0]]), np.array([[0.5, 0.5]]))
    array([[0., 0.]])
    """
    dout, s = as_float_array(dout, "dout"), as_float_array(s, "s")
    require_same_shape(dout, s, "dout", "s")
    return s * (dout - np.sum(dout * s, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """``x_i - log(sum_j exp(x_j))`` along ``axis``, by the log-sum-exp trick.

    >>> np.round(log_softmax(np.array([[0.0, 1000.0]])), 6)
    array([[-1000.,     0.]])
    """
    x = as_float_array(x, "x")
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_backward(dout, log_s, axis=-1):
    """Vector-Jacobian product of log-softmax: ``dout - exp(log_s) * sum(dout)`` along ``axis``.

    Parameters
    ----------
    dout : ndarray of shape (N, K)
    log_s : ndarray of shape (N, K), the log-softmax output

    >>> log_softmax_backward(np.array([[1.0, 0.0]]), np.log(np.array([[0.25, 0.75]])))
    array([[ 0.75, -0.75]])
    """
    dout, log_s = as_float_array(dout, "dout"), as_float_array(log_s, "log_s")
    require_same_shape(dout, log_s, "dout", "log_s")
    return dout - np.exp(log_s) * np.sum(dout, axis=axis, keepdims=True)


#: Elementwise activations by name: (function, derivative).
ELEMENTWISE = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
    "softplus": (softplus, softplus_derivative),
}


def elementwise_forward(x, name, **params):
    """Apply the activation ``name`` (a key of ``ELEMENTWISE``) and keep what backward needs.

    Returns
    -------
    out : ndarray of the shape of ``x``
    cache : opaque, for ``elementwise_backward``

    >>> out, cache = elementwise_forward(np.array([-1.0, 2.0]), "relu")
    >>> elementwise_backward(np.array([5.0, 5.0]), cache)
    array([0., 5.])
    """
    if name not in ELEMENTWISE:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ELEMENTWISE)}.")
    function, _ = ELEMENTWISE[name]
    return function(x, **params), (x, name, params)


def elementwise_backward(dout, cache):
    """``dout * f'(x)``: the gradient with respect to the input of ``elementwise_forward``."""
    x, name, params = cache
    require_same_shape(dout, x, "dout", "x")
    _, derivative = ELEMENTWISE[name]
    return dout * derivative(x, **params)
