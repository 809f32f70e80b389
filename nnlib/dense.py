"""The fully connected (affine, dense) layer, forward and backward (chapter 3).

Shape letters: N batch, D input features, M outputs. Rows are examples: ``out = x @ w + b``
with ``w`` of shape (D, M). Gradients come back in the order of the forward's inputs, each with
the shape and dtype of its input. Nothing modifies its arguments.
"""

import numpy as np

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
