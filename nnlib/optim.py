"""Gradient-descent update rules: SGD, momentum, RMSProp and Adam, and chapter 3's training loop.

Each rule is a pure function ``step(w, dw, state, lr, **options) -> (w_new, state_new)`` of one
parameter array ``w`` and its gradient ``dw`` (same shape): ``w_new`` has the dtype of ``w``, and
``state_new`` is a new dict for the rules with memory (None for plain SGD). Pass ``state=None`` on
the first step and the returned state on the next. Nothing modifies
its arguments, so the previous parameter and state stay available (e.g. to plot a trajectory).
``gradient_descent`` runs ``sgd_step`` on a dict of parameters for a number of full-batch steps
and ``minibatch_sgd`` for a number of epochs of minibatches (chapter 3); ``nnlib.model.train`` is
the minibatch loop of the later chapters' layer objects.
"""

import numpy as np

from nnlib.validation import as_float_array, require_generator, require_same_shape, require_shape


def _prepare(w, dw, lr):
    w, dw = as_float_array(w, "w"), as_float_array(dw, "dw")
    require_same_shape(w, dw, "w", "dw")
    if not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}.")
    return w, dw


def _check_rate(value, name):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")


def _state_array(state, key, w):
    """``state[key]`` checked against ``w``'s shape, or zeros on the first step (``state=None``)."""
    if state is None:
        return np.zeros_like(w)
    if key not in state:
        raise ValueError(f"state must hold {key!r} (pass state=None on the first step), got keys {sorted(state)}.")
    value = as_float_array(state[key], f"state[{key!r}]")
    require_shape(value, w.shape, f"state[{key!r}]")
    return value


def sgd_step(w, dw, state, lr):
    """Plain gradient descent, ``w_new = w - lr * dw``.

    It keeps no memory, but takes and returns a state like every other step, so that a training
    loop can swap one rule for another (``nnlib.model.train``'s ``optimizer``).

    Parameters
    ----------
    w : ndarray of any shape, the parameter
    dw : ndarray of the shape of ``w``, the gradient of the loss with respect to ``w``
    state : None (SGD has no state; anything else is a mistake and raises ValueError)
    lr : float, the learning rate (eta)

    Returns
    -------
    w_new : ndarray of the shape and dtype of ``w``
    state : None

    >>> sgd_step(np.array([1.0, 2.0]), np.array([10.0, -10.0]), None, lr=0.1)
    (array([0., 3.]), None)
    """
    if state is not None:
        raise ValueError(f"sgd_step keeps no state: pass state=None, got {type(state).__name__}.")
    w, dw = _prepare(w, dw, lr)
    return (w - lr * dw).astype(w.dtype, copy=False), None


def gradient_descent(loss_fn, params, x, y, lr, num_steps):
    """``num_steps`` full-batch steps of ``w = w - lr * dJ/dw`` on every parameter ``w`` of ``params``.

    Each step computes ``loss, grads = loss_fn(params, x, y)``, records ``loss`` (the loss before
    the update) and replaces ``params`` by a new dict of ``sgd_step``'s results.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, x, y) -> (loss, grads)``, ``grads`` a dict with the keys of ``params``,
        e.g. ``nnlib.dense.two_layer_loss``
    params : dict of ndarrays, the initial parameters (not modified)
    x, y : the data, passed to ``loss_fn`` unchanged, e.g. ndarrays of shape (N, D) and (N,)
    lr : float >= 0, the learning rate
    num_steps : int >= 0

    Returns
    -------
    params : a new dict with the keys of ``params``, each array of its parameter's shape and dtype
    losses : ndarray of shape (num_steps,), float64, the loss before each step

    >>> def quadratic(params, x, y):  # J = sum((w - x)**2), minimum at w = x
    ...     return float(np.sum((params["w"] - x) ** 2)), {"w": 2 * (params["w"] - x)}
    >>> params, losses = gradient_descent(quadratic, {"w": np.array([3.0])}, np.array([1.0]), None, lr=0.25, num_steps=3)
    >>> params["w"], losses
    (array([1.25]), array([4.  , 1.  , 0.25]))
    """
    if int(num_steps) != num_steps or num_steps < 0:
        raise ValueError(f"num_steps must be an integer >= 0, got {num_steps}.")
    params, losses = dict(params), []
    for _ in range(int(num_steps)):
        loss, grads = loss_fn(params, x, y)
        losses.append(loss)
        params = {k: sgd_step(params[k], grads[k], None, lr)[0] for k in params}
    return params, np.array(losses, dtype=np.float64)


def minibatch_sgd(loss_fn, params, x, y, *, lr, batch_size, epochs, rng, on_epoch=None):
    """Stochastic gradient descent on minibatches: ``epochs`` passes over the data in a random order.

    Each epoch draws ``order = rng.permutation(N)`` and cuts it into consecutive batches of
    ``batch_size`` indices (the last one shorter if ``batch_size`` does not divide N); for each
    batch it computes ``loss, grads = loss_fn(params, x[batch], y[batch])``, records ``loss`` and
    replaces ``params`` by a new dict of ``sgd_step``'s results. Chapter 3's synthesis trains on
    the digits with it; ``nnlib.model.train`` is the same loop for the layer objects of later chapters.

    Parameters
    ----------
    loss_fn : callable, ``loss_fn(params, x, y) -> (loss, grads)``, e.g. ``nnlib.dense.two_layer_loss``
    params : dict of ndarrays, the initial parameters (not modified)
    x : ndarray of shape (N, ...), the examples (rows)
    y : ndarray of shape (N,), their integer labels
    lr : float >= 0
    batch_size : int >= 1
    epochs : int >= 0
    rng : numpy.random.Generator, the only source of randomness (the order of each epoch)
    on_epoch : callable or None, called as ``on_epoch(params)`` after every epoch (e.g. to record
        a validation curve)

    Returns
    -------
    params : a new dict with the keys, shapes and dtypes of ``params``
    losses : ndarray of shape (epochs * ceil(N / batch_size),), float64, the loss of each batch
        before its update

    >>> def quadratic(params, x, y):  # the mean of (w - x_n)**2 over the batch: minimum at the batch's mean
    ...     return float(np.mean((params["w"] - x) ** 2)), {"w": np.array([2 * np.mean(params["w"] - x)])}
    >>> params, losses = minibatch_sgd(quadratic, {"w": np.array([0.0])}, np.array([1.0, 1.0, 1.0, 1.0]),
    ...                                np.zeros(4), lr=0.25, batch_size=2, epochs=2, rng=np.random.default_rng(0))
    >>> params["w"], losses
    (array([0.9375]), array([1.      , 0.25    , 0.0625  , 0.015625]))
    """
    require_generator(rng)
    for value, name, minimum in ((batch_size, "batch_size", 1), (epochs, "epochs", 0)):
        if int(value) != value or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be callable or None, got {type(on_epoch).__name__}.")
    n = len(y)
    if len(x) != n:
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {n}.")
    params, losses = dict(params), []
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for start in range(0, n, int(batch_size)):
            batch = order[start : start + int(batch_size)]
            loss, grads = loss_fn(params, x[batch], y[batch])
            losses.append(loss)
            params = {k: sgd_step(params[k], grads[k], None, lr)[0] for k in params}
        if on_epoch is not None:
            on_epoch(params)
    return params, np.array(losses, dtype=np.float64)


def momentum_step(w, dw, state, lr, beta=0.9):
    """SGD with (heavy-ball) momentum: ``v = beta * v + dw``, ``w_new = w - lr * v``.

    The velocity ``v`` is a running sum of past gradients, decayed by ``beta`` per step; it starts
    at zero, so the first step equals an SGD step.

    Parameters
    ----------
    w : ndarray of any shape
    dw : ndarray of the shape of ``w``
    state : dict ``{"velocity": ndarray of the shape of w}``, or None on the first step
    lr : float
    beta : float in [0, 1)

    Returns
    -------
    w_new : ndarray of the shape and dtype of ``w``
    state : a new dict ``{"velocity": v}``

    >>> w, state = momentum_step(np.array([1.0]), np.array([1.0]), None, lr=0.1)
    >>> w, state = momentum_step(w, np.array([1.0]), state, lr=0.1)
    >>> w, state["velocity"]
    (array([0.71]), array([1.9]))
    """
    w, dw = _prepare(w, dw, lr)
    _check_rate(beta, "beta")
    v = beta * _state_array(state, "velocity", w) + dw
    return (w - lr * v).astype(w.dtype, copy=False), {"velocity": v}


def rmsprop_step(w, dw, state, lr, decay=0.99, eps=1e-8):
    """RMSProp: ``s = decay * s + (1 - decay) * dw**2``, ``w_new = w - lr * dw / (sqrt(s) + eps)``.

    Each weight's step is divided by a running root-mean-square of its own gradients, so weights
    with large gradients take smaller steps. ``s`` starts at zero (no bias correction).

    Parameters
    ----------
    w : ndarray of any shape
    dw : ndarray of the shape of ``w``
    state : dict ``{"sq_avg": ndarray of the shape of w}``, or None on the first step
    lr : float
    decay : float in [0, 1)
    eps : float > 0, keeps the division finite where ``s`` is 0

    Returns
    -------
    w_new : ndarray of the shape and dtype of ``w``
    state : a new dict ``{"sq_avg": s}``

    >>> w, state = rmsprop_step(np.array([1.0]), np.array([2.0]), None, lr=0.01, decay=0.75)
    >>> w, state["sq_avg"]
    (array([0.98]), array([1.]))
    """
    w, dw = _prepare(w, dw, lr)
    _check_rate(decay, "decay")
    s = decay * _state_array(state, "sq_avg", w) + (1 - decay) * dw * dw
    return (w - lr * dw / (np.sqrt(s) + eps)).astype(w.dtype, copy=False), {"sq_avg": s}


def adam_step(w, dw, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam, with bias correction.

    ``t += 1``; ``m = beta1 * m + (1 - beta1) * dw``; ``v = beta2 * v + (1 - beta2) * dw**2``;
    ``m_hat = m / (1 - beta1**t)``; ``v_hat = v / (1 - beta2**t)``;
    ``w_new = w - lr * m_hat / (sqrt(v_hat) + eps)``.

    The bias correction undoes the pull of the zero initial ``m`` and ``v`` towards 0: on the first
    step ``m_hat = dw`` and ``v_hat = dw**2``, so every weight with a gradient moves by about ``lr``.

    Parameters
    ----------
    w : ndarray of any shape
    dw : ndarray of the shape of ``w``
    state : dict ``{"m": ndarray, "v": ndarray, "t": int}``, or None on the first step
    lr : float
    beta1, beta2 : float in [0, 1)
    eps : float > 0

    Returns
    -------
    w_new : ndarray of the shape and dtype of ``w``
    state : a new dict ``{"m": m, "v": v, "t": t}``

    >>> w, state = adam_step(np.array([1.0, 1.0]), np.array([5.0, -1.0]), None, lr=0.1)
    >>> w.round(6), state["t"]
    (array([0.9, 1.1]), 1)
    """
    w, dw = _prepare(w, dw, lr)
    _check_rate(beta1, "beta1")
    _check_rate(beta2, "beta2")
    m = beta1 * _state_array(state, "m", w) + (1 - beta1) * dw
    v = beta2 * _state_array(state, "v", w) + (1 - beta2) * dw * dw
    if state is not None and "t" not in state:
        raise ValueError(f"state must hold the step count 't', got keys {sorted(state)}.")
    t = 1 if state is None else int(state["t"]) + 1
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w_new.astype(w.dtype, copy=False), {"m": m, "v": v, "t": t}
