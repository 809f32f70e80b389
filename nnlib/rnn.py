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


#: The parameter names of ``rnn_regression_loss``'s model, in the order gradients are listed.
REGRESSION_KEYS = ("w_x", "w_h", "b", "w_y", "b_y")


def rnn_regression_loss(params, x, target, h0, *, activation="tanh"):
    """Loss and gradients of a recurrent network that predicts a value at every step.

    The forward pass is ``h = rnn_forward(x, h0, w_x, w_h, b)``, ``pred_t = h_t @ w_y + b_y`` at
    every step and ``J = mse(pred, target)``, the mean over all N * T * M predicted values; the
    backward pass runs the output layer's backward and then BPTT. It also returns the last
    state, which truncated BPTT passes on to the next chunk of the sequences as a plain value
    (no gradient flows through it).

    Parameters
    ----------
    params : dict ``{"w_x": (D, H), "w_h": (H, H), "b": (H,), "w_y": (H, M), "b_y": (M,)}`` (not modified)
    x : ndarray of shape (N, T, D)
    target : ndarray of shape (N, T, M)
    h0 : ndarray of shape (N, H)
    activation : {"tanh", "sigmoid"}

    Returns
    -------
    loss : float
    grads : a new dict with the keys of ``params``, each gradient of its parameter's shape and dtype
    h_last : ndarray of shape (N, H), the state after the last step

    >>> rng = np.random.default_rng(0)
    >>> params = {"w_x": rng.standard_normal((1, 3)), "w_h": np.zeros((3, 3)), "b": np.zeros(3),
    ...           "w_y": np.zeros((3, 1)), "b_y": np.zeros(1)}
    >>> loss, grads, h_last = rnn_regression_loss(params, np.ones((2, 4, 1)), np.ones((2, 4, 1)), np.zeros((2, 3)))
    >>> loss, grads["b_y"]  # predictions 0 against targets 1: J = 1, dJ/db_y = mean of 2 (0 - 1)
    (1.0, array([-2.]))
    """
    if not isinstance(params, dict) or set(params) != set(REGRESSION_KEYS):
        got = f"keys {sorted(params)}" if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with the keys {', '.join(REGRESSION_KEYS)}, got {got}.")
    target = as_float_array(target, "target")
    w_y, b_y = as_float_array(params["w_y"], "params['w_y']"), as_float_array(params["b_y"], "params['b_y']")
    h, cache = rnn_forward(x, h0, params["w_x"], params["w_h"], params["b"], activation=activation)  # (N, T, H)
    N, T, H = h.shape
    require_ndim(w_y, 2, "params['w_y']", "(H, M)")
    require_shape(w_y, (H, None), "params['w_y']")
    M = w_y.shape[1]
    require_shape(b_y, (M,), "params['b_y']")
    require_shape(target, (N, T, M), "target")
    pred = h.reshape(N * T, H) @ w_y + b_y  # (N T, M)
    diff = pred - target.reshape(N * T, M)
    loss = float(np.mean(diff * diff))
    dpred = (2 / diff.size) * diff  # (N T, M)
    dw_y = h.reshape(N * T, H).T @ dpred  # (H, M)
    db_y = dpred.sum(axis=0)
    dh = (dpred @ w_y.T).reshape(N, T, H)
    _, _, dw_x, dw_h, db = rnn_backward(dh, cache)
    grads = {"w_x": dw_x, "w_h": dw_h, "b": db,
             "w_y": dw_y.astype(w_y.dtype, copy=False), "b_y": db_y.astype(b_y.dtype, copy=False)}
    return loss, grads, h[:, -1].copy()


def train_tbptt(loss_fn, params, x, target, *, lr, chunk, num_epochs, max_norm=None):
    """Truncated backpropagation through time with plain gradient descent.

    Each epoch starts from ``h = 0`` and walks through the sequences in chunks of ``chunk`` steps
    (the last chunk may be shorter). On each chunk, ``loss, grads, h = loss_fn(params, x_chunk,
    target_chunk, h)`` gives the gradients of that chunk alone; they are clipped to the global norm
    ``max_norm`` (unless it is None) and the parameters take one step ``p - lr * grad``. The last
    state ``h`` is passed on to the next chunk as a value: the state is carried, its gradient is
    cut, so one step costs at most ``chunk`` steps of BPTT however long the sequences are.

    Parameters
    ----------
    loss_fn : callable, ``loss_fn(params, x, target, h0) -> (loss, grads, h_last)``, e.g. ``rnn_regression_loss``
    params : dict of str to ndarray, the initial parameters (not modified)
    x : ndarray of shape (N, T, D)
    target : ndarray of shape (N, T, M)
    lr : float, the learning rate
    chunk : int >= 1, the number of steps gradients flow back through
    num_epochs : int >= 0
    max_norm : float > 0 or None

    Returns
    -------
    params : a new dict, the trained parameters
    losses : list of float, the loss of every chunk, recorded before its update

    >>> rng = np.random.default_rng(0)
    >>> params = {"w_x": rng.standard_normal((1, 4)), "w_h": np.zeros((4, 4)), "b": np.zeros(4),
    ...           "w_y": np.zeros((4, 1)), "b_y": np.zeros(1)}
    >>> x = rng.standard_normal((8, 10, 1))
    >>> new, losses = train_tbptt(rnn_regression_loss, params, x, 0.5 * x, lr=0.3, chunk=4, num_epochs=5)
    >>> len(losses), bool(losses[-1] < losses[0])  # 3 chunks (4 + 4 + 2 steps) per epoch
    (15, True)
    """
    x, target = as_float_array(x, "x"), as_float_array(target, "target")
    require_ndim(x, 3, "x", "(N, T, D)")
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}.")
    if not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0:
        raise ValueError(f"num_epochs must be an integer >= 0, got {num_epochs!r}.")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm must be positive or None, got {max_norm}.")
    N, T, _ = x.shape
    H = np.shape(params["w_h"])[0]
    losses = []
    for _ in range(num_epochs):
        h = np.zeros((N, H), dtype=x.dtype)  # every epoch starts again from the beginning of the sequences
        for start in range(0, T, chunk):
            steps = slice(start, start + chunk)
            loss, grads, h = loss_fn(params, x[:, steps], target[:, steps], h)  # h: a value, its gradient is cut
            if max_norm is not None:
                grads, _ = clip_grad_norm(grads, max_norm)
            params = {k: params[k] - lr * grads[k] for k in params}
            losses.append(float(loss))
    return dict(params), losses
