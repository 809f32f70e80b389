"""The fully connected (affine, dense) layer, forward and backward, and chapter 3's two-layer network.

Shape letters: N batch, D input features, M outputs, H hidden units, K classes. Rows are
examples: ``out = x @ w + b`` with ``w`` of shape (D, M). Gradients come back in the order of the
forward's inputs, each with the shape and dtype of its input. Nothing modifies its arguments.
"""

import numpy as np

from nnlib.activations import relu
from nnlib.losses import softmax_cross_entropy
from nnlib.validation import as_float_array, require_ndim, require_shape


def affine_forward(x, w, b):
    """Affine map of a batch of rows, ``out = x @ w + b``.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Flatten image batches first, e.g. ``x.reshape(len(x), -1)``.
    w : ndarray of shape (D, M)
    b : ndarray of shape (M,)

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : opaque, for ``affine_backward``

    >>> out, cache = affine_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
    ...                             np.array([0.0, 0.0, 10.0]))
    >>> out
    array([[ 1.,  2., 13.]])
    """
    x, w, b = as_float_array(x, "x"), as_float_array(w, "w"), as_float_array(b, "b")
    require_ndim(x, 2, "x", "(N, D)")
    require_ndim(w, 2, "w", "(D, M)")
    require_shape(w, (x.shape[1], None), "w")  # D must match x's columns
    require_shape(b, (w.shape[1],), "b")
    out = x @ w + b  # (N, D) @ (D, M) + (M,) -> (N, M)
    return out, (x, w, b.dtype)


def affine_backward(dout, cache):
    """Gradients of the affine layer: ``dx = dout @ w.T``, ``dw = x.T @ dout``, ``db = sum_n dout``.

    Each row of the batch contributes to ``dw`` and ``db``, so they are sums over N (the mean
    over the batch, if any, is already inside ``dout``).

    Parameters
    ----------
    dout : ndarray of shape (N, M), gradient of the loss with respect to ``out``
    cache : from ``affine_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)

    >>> x, w, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2), np.zeros(2)
    >>> _, cache = affine_forward(x, w, b)
    >>> dx, dw, db = affine_backward(np.array([[1.0, 0.0], [0.0, 1.0]]), cache)
    >>> dw, db
    (array([[1., 3.],
           [2., 4.]]), array([1., 1.]))
    """
    x, w, b_dtype = cache
    dout = as_float_array(dout, "dout")
    require_shape(dout, (x.shape[0], w.shape[1]), "dout")
    dx = dout @ w.T  # (N, M) @ (M, D) -> (N, D)
    dw = x.T @ dout  # (D, N) @ (N, M) -> (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx.astype(x.dtype, copy=False), dw.astype(w.dtype, copy=False), db.astype(b_dtype, copy=False)


#: The parameter names of ``two_layer_loss``'s network.
TWO_LAYER_KEYS = ("W1", "b1", "W2", "b2")


def _check_two_layer_params(params, x):
    """Name the parameter whose shape is wrong (``affine_forward`` would only say ``w`` or ``b``)."""
    if not isinstance(params, dict) or set(params) != set(TWO_LAYER_KEYS):
        got = f"keys {sorted(params)}" if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys {', '.join(TWO_LAYER_KEYS)}, got {got}.")
    require_ndim(x, 2, "x", "(N, D)")
    w1, w2 = params["W1"], params["W2"]
    require_ndim(w1, 2, "params['W1']", "(D, H)")
    require_shape(w1, (np.shape(x)[1], None), "params['W1']")
    require_shape(params["b1"], (w1.shape[1],), "params['b1']")
    require_ndim(w2, 2, "params['W2']", "(H, K)")
    require_shape(w2, (w1.shape[1], None), "params['W2']")
    require_shape(params["b2"], (w2.shape[1],), "params['b2']")


def two_layer_loss(params, x, y):
    """Loss and gradients of affine - ReLU - affine - softmax cross-entropy, ``J(relu(x W1 + b1) W2 + b2, y)``.

    The forward pass is ``z1 = x @ W1 + b1``, ``h1 = relu(z1)``, ``scores = h1 @ W2 + b2`` and
    ``J = softmax_cross_entropy(scores, y)``; the backward pass runs the same layers in reverse,
    with the ReLU passing the gradient only where ``z1 > 0``.

    Parameters
    ----------
    params : dict ``{"W1": (D, H), "b1": (H,), "W2": (H, K), "b2": (K,)}`` of ndarrays (not modified)
    x : ndarray of shape (N, D)
    y : ndarray of shape (N,), integer labels in [0, K)

    Returns
    -------
    loss : float, the mean over the batch
    grads : a new dict with the keys of ``params``, each gradient of the shape and dtype of its parameter

    >>> rng = np.random.default_rng(0)
    >>> params = {"W1": rng.standard_normal((2, 4)), "b1": np.zeros(4), "W2": np.zeros((4, 3)), "b2": np.zeros(3)}
    >>> loss, grads = two_layer_loss(params, rng.standard_normal((5, 2)), np.array([0, 1, 2, 0, 1]))
    >>> bool(abs(loss - np.log(3)) < 1e-12), {k: g.shape for k, g in grads.items()}  # W2 = 0: uniform scores
    (True, {'W1': (2, 4), 'b1': (4,), 'W2': (4, 3), 'b2': (3,)})
    """
    _check_two_layer_params(params, x)
    z1, cache1 = affine_forward(x, params["W1"], params["b1"])  # (N, H)
    h1 = relu(z1)  # (N, H)
    scores, cache2 = affine_forward(h1, params["W2"], params["b2"])  # (N, K)
    loss, dscores = softmax_cross_entropy(scores, y)  # dscores (N, K) holds the 1/N of the mean
    dh1, dW2, db2 = affine_backward(dscores, cache2)
    _, dW1, db1 = affine_backward(dh1 * (z1 > 0), cache1)  # ReLU: no gradient where z1 <= 0
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
