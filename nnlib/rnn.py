"""Vanilla recurrent networks: one step, a whole sequence, backpropagation through time, clipping.

Taught in the recurrent-networks chapter. The seed writes the state update for one example as
column vectors,

    h_t = sigma(W_h h_{t-1} + W_x x_t + b),      W_h (H, H), W_x (H, D), h_t (H, 1), x_t (D, 1),

where sigma is a squashing nonlinearity. nnlib stores a batch as rows, one example per row, so
the same update for N examples at once reads

    h_t = act(h_{t-1} @ w_h + x_t @ w_x + b),    h_t (N, H), x_t (N, D), w_h (H, H), w_x (D, H), b (H,),

with ``w_h = W_h.T`` and ``w_x = W_x.T`` (transpose both sides of the column form). ``act`` is
``tanh`` by default (the usual choice: zero-centred, derivative up to 1) or ``"sigmoid"``, the
seed's sigma (derivative at most 1/4, so gradients shrink faster through time).

Backpropagation through time (BPTT) runs the steps backwards: the gradient reaching h_t is the
upstream gradient on h_t plus what flows back from h_{t+1} through ``w_h``; the weights are shared
by every step, so their gradients are sums over time. With small ``w_h`` that carried gradient
shrinks geometrically with each step (the vanishing gradient); with large ``w_h`` it can explode,
which ``clip_grad_norm`` guards against.

Shape letters: N batch, T time steps, D input features, H hidden units.
"""

import numpy as np

from nnlib import activations
from nnlib.validation import as_float_array, require_ndim, require_shape

#: d act / d a written with the output h = act(a), which the forward pass keeps.
_DERIVATIVE_FROM_OUTPUT = {
    "tanh": lambda h: 1 - h * h,  # tanh' = 1 - tanh**2
    "sigmoid": lambda h: h * (1 - h),  # sigmoid' = sigmoid * (1 - sigmoid)
}


def _activation(name):
    if name not in _DERIVATIVE_FROM_OUTPUT:
        raise ValueError(f"activation must be 'tanh' or 'sigmoid', got {name!r}.")
    return activations.ELEMENTWISE[name][0]


def _check_weights(w_x, w_h, b, D):
    """Validate the shared parameters against the input size D; returns them as float arrays."""
    w_x, w_h, b = as_float_array(w_x, "w_x"), as_float_array(w_h, "w_h"), as_float_array(b, "b")
    require_ndim(w_x, 2, "w_x", "(D, H)")
    H = w_x.shape[1]
    require_shape(w_x, (D, H), "w_x")
    require_shape(w_h, (H, H), "w_h")
    require_shape(b, (H,), "b")
    return w_x, w_h, b


def rnn_step_forward(x, h_prev, w_x, w_h, b, *, activation="tanh"):
    """One recurrent step, ``h = act(h_prev @ w_h + x @ w_x + b)``.

    Parameters
    ----------
    x : ndarray of shape (N, D), the inputs at this time step
    h_prev : ndarray of shape (N, H), the previous hidden state
    w_x : ndarray of shape (D, H), input-to-hidden weights (``W_x.T`` of the column form)
    w_h : ndarray of shape (H, H), hidden-to-hidden weights (``W_h.T`` of the column form)
    b : ndarray of shape (H,)
    activation : {"tanh", "sigmoid"}

    Returns
    -------
    h : ndarray of shape (N, H), the new hidden state, in the dtype of the inputs
    cache : opaque, for ``rnn_step_backward``

    >>> h, _ = rnn_step_forward(np.array([[1.0]]), np.array([[0.5]]), np.array([[2.0]]),
    ...                         np.array([[-2.0]]), np.array([0.0]))
    >>> np.round(h, 4)  # tanh(0.5 * -2 + 1 * 2 + 0) = tanh(1)
    array([[0.7616]])
    """
    act = _activation(activation)
    x, h_prev = as_float_array(x, "x"), as_float_array(h_prev, "h_prev")
    require_ndim(x, 2, "x", "(N, D)")
    N, D = x.shape
    w_x, w_h, b = _check_weights(w_x, w_h, b, D)
    require_shape(h_prev, (N, w_h.shape[0]), "h_prev")
    h = act(h_prev @ w_h + x @ w_x + b)  # (N, H)
    return h, (x, h_prev, w_x, w_h, b.dtype, h, activation)


def rnn_step_backward(dout, cache):
    """Gradients of one recurrent step: with ``da = dout * act'(a)``, ``dx = da @ w_x.T``,
    ``dh_prev = da @ w_h.T``, ``dw_x = x.T @ da``, ``dw_h = h_prev.T @ da``, ``db = sum_n da``.

    Parameters
    ----------
    dout : ndarray of shape (N, H), gradient of the loss with respect to the step's output ``h``
    cache : from ``rnn_step_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dh_prev : ndarray of shape (N, H)
    dw_x : ndarray of shape (D, H)
    dw_h : ndarray of shape (H, H)
    db : ndarray of shape (H,)
        Each in the dtype of its forward input, whatever the dtype of ``dout``.

    >>> x, h_prev = np.ones((1, 1)), np.zeros((1, 1))
    >>> h, cache = rnn_step_forward(x, h_prev, np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1))
    >>> [g.item() for g in rnn_step_backward(np.ones((1, 1)), cache)]  # tanh'(0) = 1
    [0.0, 1.0, 1.0, 0.0, 1.0]
    """
    x, h_prev, w_x, w_h, b_dtype, h, activation = cache
    dout = as_float_array(dout, "dout")
    require_shape(dout, h.shape, "dout")
    da = dout.astype(h.dtype, copy=False) * _DERIVATIVE_FROM_OUTPUT[activation](h)  # (N, H), at the pre-activation a
    grads = (da @ w_x.T, da @ w_h.T, x.T @ da, h_prev.T @ da, da.sum(axis=0))
    dtypes = (x.dtype, h_prev.dtype, w_x.dtype, w_h.dtype, b_dtype)
    return tuple(g.astype(d, copy=False) for g, d in zip(grads, dtypes))


def rnn_forward(x, h0, w_x, w_h, b, *, activation="tanh"):
    """Run ``h_t = act(h_{t-1} @ w_h + x_t @ w_x + b)`` over a whole sequence, t = 1 .. T.

    The same weights serve every step. It computes what T calls of ``rnn_step_forward`` would;
    the input term ``x_t @ w_x + b`` does not depend on the state, so it is computed for all
    steps at once by one matrix product before the loop.

    Parameters
    ----------
    x : ndarray of shape (N, T, D), the input sequences
    h0 : ndarray of shape (N, H), the initial hidden state
    w_x : ndarray of shape (D, H)
    w_h : ndarray of shape (H, H)
    b : ndarray of shape (H,)
    activation : {"tanh", "sigmoid"}

    Returns
    -------
    h : ndarray of shape (N, T, H), the hidden state after every step (``h[:, t]`` is h_{t+1}),
        a new array: changing it does not change the cache
    cache : opaque, for ``rnn_backward``

    >>> x = np.ones((1, 3, 1))
    >>> h, _ = rnn_forward(x, np.zeros((1, 1)), np.ones((1, 1)), np.zeros((1, 1)), np.zeros(1))
    >>> np.round(h[0, :, 0], 4)  # no recurrence (w_h = 0): tanh(1) at every step
    array([0.7616, 0.7616, 0.7616])
    """
    act = _activation(activation)
    x, h0 = as_float_array(x, "x"), as_float_array(h0, "h0")
    require_ndim(x, 3, "x", "(N, T, D)")
    N, T, D = x.shape
    if T == 0:
        raise ValueError(f"x must hold at least one time step, got shape {x.shape} (T = 0).")
    w_x, w_h, b = _check_weights(w_x, w_h, b, D)
    H = w_h.shape[0]
    require_shape(h0, (N, H), "h0")
    dtype = np.result_type(x, h0, w_x, w_h, b)

    # hs[:, 0] is h0 and hs[:, t] is h_t: one buffer holds every state BPTT needs.
    hs = np.empty((N, T + 1, H), dtype=dtype)
    hs[:, 0] = h0
    a = (x.reshape(N * T, D) @ w_x).astype(dtype, copy=False).reshape(N, T, H)  # x_t @ w_x for all t
    a += b
    recurrent = np.empty((N, H), dtype=dtype)
    for t in range(T):
        at = a[:, t]  # (N, H), a view: the pre-activation is completed in place
        at += np.matmul(hs[:, t], w_h, out=recurrent)  # h_{t-1} @ w_h
        hs[:, t + 1] = act(at)
    return hs[:, 1:].copy(), (x, h0.dtype, w_x, w_h, b.dtype, hs, activation)


def rnn_backward(dout, cache):
    """Backpropagation through time: gradients of a loss whose gradient on every h_t is given.

    Going backwards from t = T, the gradient at the pre-activation of step t is
    ``da_t = (dout_t + da_{t+1} @ w_h.T) * act'(a_t)``: the upstream gradient on h_t plus the one
    carried back from step t+1. The shared weights collect a sum over steps,
    ``dw_h = sum_t h_{t-1}.T @ da_t``, ``dw_x = sum_t x_t.T @ da_t``, ``db = sum_{n,t} da_t``,
    each computed by one matrix product after the loop.

    Parameters
    ----------
    dout : ndarray of shape (N, T, H), gradient of the loss with respect to every hidden state
        (zeros except at the last step when only the final state feeds the loss)
    cache : from ``rnn_forward``

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dw_x : ndarray of shape (D, H)
    dw_h : ndarray of shape (H, H)
    db : ndarray of shape (H,)
        Each in the dtype of its forward input, whatever the dtype of ``dout``.

    >>> x = np.ones((1, 2, 1))
    >>> h, cache = rnn_forward(x, np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1))
    >>> dout = np.array([[[0.0], [1.0]]])  # a loss on the last state only
    >>> rnn_backward(dout, cache)[1]  # h stays 0, so tanh' = 1 and w_h = 1 carry it back unchanged
    array([[1.]])
    """
    x, h0_dtype, w_x, w_h, b_dtype, hs, activation = cache
    N, T, D = x.shape
    H = w_h.shape[0]
    dout = as_float_array(dout, "dout")
    require_shape(dout, (N, T, H), "dout")
    derivative = _DERIVATIVE_FROM_OUTPUT[activation]

    dact = derivative(hs[:, 1:])  # (N, T, H): act'(a_t) for every step, from the outputs
    da = dout.astype(hs.dtype, copy=False) * dact  # (N, T, H): at every pre-activation; carried part added below
    carried = np.empty((N, H), dtype=da.dtype)  # gradient reaching h_{t-1} from step t
    for t in reversed(range(T)):
        np.matmul(da[:, t], w_h.T, out=carried)  # da_t is complete: pass it back through w_h
        if t > 0:
            da[:, t - 1] += carried * dact[:, t - 1]

    da_rows = da.reshape(N * T, H)
    dx = (da_rows @ w_x.T).reshape(N, T, D)
    dw_x = x.reshape(N * T, D).T @ da_rows
    dw_h = hs[:, :-1].reshape(N * T, H).T @ da_rows  # h_{t-1} for every t
    db = da_rows.sum(axis=0)
    grads = (dx, carried, dw_x, dw_h, db)
    dtypes = (x.dtype, h0_dtype, w_x.dtype, w_h.dtype, b_dtype)
    return tuple(g.astype(d, copy=False) for g, d in zip(grads, dtypes))


def clip_grad_norm(grads, max_norm):
    """Scale all gradients by ``min(1, max_norm / total_norm)``, where ``total_norm`` is the
    L2 norm of all their entries together.

    The direction of the combined gradient is kept; only its length is capped at ``max_norm``.
    This guards against exploding gradients in BPTT.

    Parameters
    ----------
    grads : dict of str to ndarray
    max_norm : float, > 0

    Returns
    -------
    clipped : dict of str to ndarray
        A new dict of new arrays (never the given ones, even when nothing is scaled), same keys,
        shapes and dtypes; ``grads`` and its arrays are not modified.
    total_norm : float
        The norm before clipping.

    >>> clipped, norm = clip_grad_norm({"w": np.array([3.0, 4.0])}, max_norm=1.0)
    >>> norm, clipped["w"]
    (5.0, array([0.6, 0.8]))
    """
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of str to ndarray, got {type(grads).__name__}.")
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}.")
    arrays = {k: as_float_array(g, f"grads[{k!r}]") for k, g in grads.items()}
    total_norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in arrays.values())))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    return {k: g * g.dtype.type(scale) for k, g in arrays.items()}, total_norm
