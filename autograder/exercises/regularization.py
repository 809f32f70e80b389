"""Chapter 4's exercises, regularization, batch normalization and initialisation: inputs, references, mistakes.

The notebook imports ``check`` and ``grade`` from here. The exercises, in the notebook's order:

- ``regularized_loss``: chapter 3's two-layer loss plus ``lam * sum(W**2)`` over the weights only,
  with its gradients (a (loss, gradient) exercise: it names itself as its own forward);
- ``weight_decay_step``: one gradient step on the regularized loss, written as weight decay;
- ``dropout_forward`` / ``dropout_backward``: inverted dropout, the mask drawn from the ``rng`` passed in;
- ``batchnorm_forward`` / ``batchnorm_backward``: batch normalisation in training and evaluation mode,
  the running statistics returned, never mutated;
- ``minibatch_sgd``: epochs of shuffled mini-batches, the last partial batch kept, a loss per step;
- ``variance_preserving_init``: graded on what it is for, the spread of the pre-activations through
  20 layers;
- ``train_digits``: the synthesis, graded on held-out digits.

Randomness: a student's function receives a ``numpy.random.Generator``. The cases hold a seed, and
the ``run`` adapters build a fresh generator from it for each call, so that the reference and the
student draw the same numbers (a generator in the case itself would be shared and advanced by
whichever runs first). The statements fix how the numbers are drawn (``rng.random(x.shape)`` for a
dropout mask, ``rng.permutation(N)`` once per epoch), which makes an exact check possible.

The engine copies and compares only array arguments, so the exercises on dicts receive their arrays
as separate arguments and the adapters build the dicts (from the engine's copies: an in-place
change is reported as a modified input, a replaced entry by the adapter).
"""

import hashlib

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake
from autograder.exercises._adapters import describe as _describe
from nnlib import dense, gradcheck, init, normalization, optim, regularization
from nnlib.losses import softmax_cross_entropy
from nnlib.tolerances import GRAD_STEP

#: The parameter names of chapter 3's two-layer network, in the order the checks report them.
KEYS = dense.TWO_LAYER_KEYS

#: The synthesis network's parameters: affine - batchnorm - ReLU (- dropout in training) - affine.
DIGITS_KEYS = ("W1", "b1", "gamma", "beta", "W2", "b2")

#: The held-out accuracy the synthesis must reach on the digits, training on 1000 of them with a
#: fixed seed (and the classes renamed, see RENAMED): the reference reaches 0.864 (visible case) and 0.86 (hidden), and 0.83 to 0.89 over
#: other seeds; an untrained or wrongly trained network stays near chance, 0.1.
DIGITS_THRESHOLD = 0.80

#: The band the spread (standard deviation) of every layer's pre-activations must stay in, for
#: ``variance_preserving_init``, through ``INIT_DEPTH`` layers.
SPREAD_BAND = (0.1, 10.0)
INIT_DEPTH = 20


class DictModified(Exception):
    """Raised by an adapter when a function replaced or removed an entry of a dict it was given."""


# -- adapters -----------------------------------------------------------------------------------



def _tuple(result, name, names):
    """``result`` as a tuple of ``len(names)``, or a TypeError saying what ``name`` should return."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise TypeError(f"{name} should return a tuple ({', '.join(names)}), got {_describe(result)}.")
    return result


def _as_dict(arrays, keys=KEYS):
    return dict(zip(keys, arrays))


def _unpack(params, name, what, keys=KEYS):
    if not isinstance(params, dict) or set(params) != set(keys):
        got = f"keys {sorted(params)}" if isinstance(params, dict) else _describe(params)
        raise TypeError(f"{name} should return {what} with the keys {', '.join(keys)}; got {got}.")
    return tuple(params[k] for k in keys)


def _require_untouched(given_dict, snapshot, name, what="params"):
    if set(given_dict) != set(snapshot) or any(given_dict[k] is not snapshot[k] for k in snapshot):
        raise DictModified(
            f"{name} changed the dict {what} it was given (an entry was replaced or removed): "
            f"build a new dict and leave the one passed in as it was."
        )


# -- 1. L2 regularization ---------------------------------------------------------------------------


def regularized_loss_reference(params, x, y, lam):
    """Chapter 3's two-layer loss plus ``lam * sum(W**2)`` over the weights (keys starting with W)."""
    loss, grads = dense.two_layer_loss(params, x, y)
    weights = [k for k in params if k.startswith("W")]
    loss = loss + regularization.l2_penalty([params[k] for k in weights], lam)
    return loss, {k: grads[k] + regularization.l2_penalty_gradient(params[k], lam) if k in weights else grads[k]
                  for k in params}


def regularized_loss_flat(x, y, lam, *arrays):
    loss, grads = regularized_loss_reference(_as_dict(arrays), x, y, lam)
    return (loss, *(grads[k] for k in KEYS))


def run_regularized_loss(function, forward, x, y, lam, *arrays):
    params = _as_dict(arrays)
    given = dict(params)
    loss, grads = _tuple(function(params, x, y, lam), "regularized_loss", ("loss", "grads"))
    _require_untouched(params, given, "regularized_loss")
    return (loss, *_unpack(grads, "regularized_loss", "grads as a dict"))


class Untrusted(Exception):
    """Central differences cannot be trusted on this case: the check compares with nnlib only."""


def regularized_loss_numerical(forward, x, y, lam, *arrays):
    """Central differences of the student's own regularized loss, for every parameter."""
    params = _as_dict(arrays)

    def loss(p):
        return float(forward(p, x, y, lam)[0])

    # A hidden unit within a few steps of its kink has no usable central difference.
    z1 = x @ params["W1"] + params["b1"]
    if np.any(np.abs(z1) < 10 * GRAD_STEP * (1 + np.abs(x).sum(axis=1, keepdims=True))):
        raise Untrusted("a hidden unit sits on the ReLU's kink")
    grads = [gradcheck.numerical_gradient(lambda v, k=k: loss({**params, k: v}), params[k].copy()) for k in KEYS]
    return (None, *grads)


def _regularized_mistake(*, penalise_biases=False, divide_by_n=False, grad_factor=2.0, loss_factor=1.0):
    def loss_and_grads(params, x, y, lam):
        loss, grads = dense.two_layer_loss(params, x, y)
        scale = lam / len(x) if divide_by_n else lam
        chosen = [k for k in params if penalise_biases or k.startswith("W")]
        loss = loss + loss_factor * scale * sum(float(np.sum(params[k] ** 2)) for k in chosen)
        return loss, {k: grads[k] + grad_factor * scale * params[k] if k in chosen else grads[k] for k in params}

    return loss_and_grads


def _network(rng, n, d, h, k, dtype=np.float64):
    """x, y and the four parameters of a d-h-k network, biases nonzero (so penalising them shows)."""
    x = rng.standard_normal((n, d))
    y = rng.integers(0, k, size=n)
    w1, b1 = rng.standard_normal((d, h)), 0.5 * rng.standard_normal(h)
    w2, b2 = rng.standard_normal((h, k)) / np.sqrt(h), 0.5 * rng.standard_normal(k)
    return (x.astype(dtype), y, w1.astype(dtype), b1.astype(dtype), w2.astype(dtype), b2.astype(dtype))


def regularized_loss_cases():
    def draw(n, d, h, k, lam=None):
        def inputs(rng):
            x, y, *weights = _network(rng, n, d, h, k)
            value = float(10 ** rng.uniform(-2, 0)) if lam is None else lam
            return (x, y, value, *weights)

        return inputs

    return (
        Case("a 3-5-2 network on 6 examples, lambda in [0.01, 1]", draw(6, 3, 5, 2)),
        Case("a 4-8-3 network on 10 examples", draw(10, 4, 8, 3)),
        Case("lambda = 0: the data loss alone", draw(5, 2, 4, 3, lam=0.0)),
        Case("a batch of one (a 2-3-2 network)", draw(1, 2, 3, 2)),
        Case("a 6-10-4 network on 12 examples", draw(12, 6, 10, 4), hidden=True),
        Case("a strong penalty, lambda = 5", draw(7, 3, 6, 3, lam=5.0), hidden=True),
        Case("a batch of one (a 5-2-3 network)", draw(1, 5, 2, 3), hidden=True),
    )


# -- 2. weight decay ------------------------------------------------------------------------------------


def weight_decay_reference(w, dw, lr, lam):
    """One gradient step on ``J + lam * sum(w**2)``: ``w - lr * (dw + 2 lam w)``, in the dtype of w."""
    return optim.sgd_step(w, dw + regularization.l2_penalty_gradient(w, lam), None, lr)[0]


def weight_decay_cases():
    def draw(shape, dtype=np.float64, lr=None, lam=None, transposed=False):
        def inputs(rng):
            w = rng.standard_normal(shape[::-1] if transposed else shape)
            w = (w.T if transposed else w).astype(dtype, copy=False)
            dw = rng.standard_normal(shape).astype(dtype)
            rate = float(rng.uniform(0.01, 0.5)) if lr is None else lr
            strength = float(10 ** rng.uniform(-3, -1)) if lam is None else lam
            return w, dw, rate, strength

        return inputs

    return (
        Case("w and dw of shape (3, 4), lr in [0.01, 0.5], lambda in [0.001, 0.1]", draw((3, 4))),
        Case("a bias-like vector of shape (5,)", draw((5,))),
        Case("float32 w and dw of shape (4, 2)", draw((4, 2), np.float32)),
        Case("lambda = 0: a plain gradient step", draw((2, 3), lam=0.0)),
        Case("a transposed (non-contiguous) w of shape (3, 5)", draw((3, 5), transposed=True)),
        Case("w of shape (6, 7), lr = 1", draw((6, 7), lr=1.0), hidden=True),
        Case("float32, shape (8,)", draw((8,), np.float32), hidden=True),
        Case("a transposed w of shape (4, 6), lambda = 0.05", draw((4, 6), lam=0.05, transposed=True), hidden=True),
    )


# -- 3-4. dropout ----------------------------------------------------------------------------------------


class SeededGenerator(np.random.Generator):
    """A ``numpy.random.Generator`` that remembers its seed, so that a reference can replay the numbers
    a student's function drew from it (``np.random.default_rng(seed)`` gives the same stream)."""

    def __init__(self, seed):
        super().__init__(np.random.PCG64(seed))
        self.seed = seed

    def __repr__(self):
        return f"np.random.default_rng({self.seed})"


def _fresh(rng):
    """A new generator in ``rng``'s initial state: every call draws the same numbers."""
    return SeededGenerator(rng.seed)


def dropout_forward_expected(x, drop_prob, training, rng):
    out, _ = regularization.dropout_forward(x, drop_prob, training=training, rng=_fresh(rng))
    return (out,)


def dropout_forward_solution(x, drop_prob, training, rng):
    """nnlib's answer in the student's signature."""
    return regularization.dropout_forward(x, drop_prob, training=training, rng=rng)


class NotPromised(Exception):
    """Raised by an adapter when a function breaks a promise of its statement the values cannot show."""


def run_dropout_forward(function, forward, x, drop_prob, training, rng):
    generator = _fresh(rng)
    result = function(x, drop_prob, training, generator)
    out = _tuple(result, "dropout_forward", ("out", "cache"))[0]
    if not training:
        if isinstance(out, np.ndarray) and np.shares_memory(out, x):
            raise NotPromised("dropout_forward returned x itself (or a view of it) in evaluation: return x "
                              "unchanged as a new array (x.copy()), so that changing out cannot change x.")
        # Only a right output is blamed for the draw: a wrong one is compared (and its mistake named) as usual.
        right = isinstance(out, np.ndarray) and out.shape == x.shape and np.array_equal(out, x)
        if right and generator.bit_generator.state != _fresh(rng).bit_generator.state:
            raise NotPromised("dropout_forward drew random numbers from rng in evaluation (training=False): "
                              "there dropout is the identity and draws nothing.")
    return (out,)


def dropout_forward_for_mistakes(x, drop_prob, training, rng):
    """nnlib's dropout, with a cache that holds everything a wrong backward might use."""
    keep = rng.random(x.shape) >= drop_prob
    out = x * keep / (1 - drop_prob) if training else x.copy()
    return out, {"x": x, "keep": keep, "drop_prob": drop_prob, "training": training, "rng": rng}


def _dropout_forward_mistake(out_of):
    def forward(x, drop_prob, training, rng):
        return out_of(x, rng.random(x.shape), drop_prob, training), None

    return forward


def dropout_backward_expected(x, drop_prob, training, rng, dout):
    _, cache = regularization.dropout_forward(x, drop_prob, training=training, rng=_fresh(rng))
    return regularization.dropout_backward(dout, cache)


def run_dropout_backward(function, forward, x, drop_prob, training, rng, dout):
    cache = _tuple(forward(x, drop_prob, training, _fresh(rng)), "dropout_forward", ("out", "cache"))[1]
    return function(dout, cache)


def dropout_numerical(forward, x, drop_prob, training, rng, dout):
    """The same mask in every evaluation (a fresh generator from the same seed): a fixed linear map."""
    return gradcheck.numerical_gradient_array(lambda v: forward(v, drop_prob, training, _fresh(rng))[0], x, dout)


def _dropout_shared_mask(x, drop_prob, training, rng):
    if not training:
        return x.copy(), None
    return x * (rng.random(x.shape[-1:]) >= drop_prob) / (1 - drop_prob), None


def _dropout_backward_mistake(dx_of):
    return lambda dout, cache: dx_of(dout, cache)


def dropout_cases(with_dout):
    def draw(shape, drop_prob=None, training=True, dtype=np.float64, transposed=False):
        def inputs(rng):
            x = rng.standard_normal(shape[::-1] if transposed else shape)
            x = (x.T if transposed else x).astype(dtype, copy=False)
            p = float(rng.uniform(0.2, 0.8)) if drop_prob is None else drop_prob
            args = (x, p, training, SeededGenerator(int(rng.integers(2**31))))
            return args + (rng.standard_normal(shape).astype(dtype),) if with_dout else args

        return inputs

    return (
        Case("training, x of shape (6, 5), drop_prob in [0.2, 0.8]", draw((6, 5))),
        Case("evaluation (training=False), x of shape (4, 3)", draw((4, 3), training=False)),
        Case("training, float32 x of shape (5, 4)", draw((5, 4), dtype=np.float32)),
        Case("training with drop_prob = 0: nothing is dropped", draw((3, 4), drop_prob=0.0)),
        Case("training, x of any shape: (2, 3, 4)", draw((2, 3, 4))),
        Case("training, a transposed (non-contiguous) x of shape (4, 6)", draw((4, 6), transposed=True)),
        Case("training, x of shape (20, 10), drop_prob = 0.9", draw((20, 10), drop_prob=0.9), hidden=True),
        Case("evaluation, float32 x of shape (3, 7)", draw((3, 7), training=False, dtype=np.float32), hidden=True),
        Case("training, x of shape (3, 2, 5), drop_prob = 0.5", draw((3, 2, 5), drop_prob=0.5), hidden=True),
        Case("training, a transposed x of shape (5, 3)", draw((5, 3), transposed=True), hidden=True),
    )


# -- 5-6. batch normalization -----------------------------------------------------------------------


def _running_copy(running):
    return {k: np.array(v, copy=True) for k, v in running.items()}


def batchnorm_forward_expected(x, gamma, beta, running, training, momentum, eps):
    out, _, new = normalization.batchnorm_forward(x, gamma, beta, _running_copy(running),
                                                  training=training, momentum=momentum, eps=eps)
    return out, new["mean"], new["var"]


def run_batchnorm_forward(function, forward, x, gamma, beta, running, training, momentum, eps):
    given = _running_copy(running)  # the student's own copy: the case's dict stays as drawn
    entries = dict(given)
    out, _, new = _tuple(function(x, gamma, beta, given, training, momentum, eps),
                         "batchnorm_forward", ("out", "cache", "new_running"))
    for key in ("mean", "var"):
        if given.get(key) is entries[key] and not np.array_equal(given[key], running[key]):
            raise DictModified(f'batchnorm_forward modified running["{key}"] in place: return the new running '
                               f"statistics in a new dict and leave the one passed in as it was.")
    _require_untouched(given, entries, "batchnorm_forward", "running")
    mean, var = _unpack(new, "batchnorm_forward", "new_running as a dict", keys=("mean", "var"))
    return out, mean, var


def batchnorm_forward_solution(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
    """nnlib's batchnorm_forward in the student's signature (the wrong backwards read nnlib's cache)."""
    return normalization.batchnorm_forward(x, gamma, beta, running, training=training, momentum=momentum, eps=eps)


def _batchnorm_forward_mistake(*, batch_stats_at_eval=False, swapped_momentum=False, axis=0, eps_outside=False,
                               ddof=0, no_update=False, running_ddof=None):
    def forward(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        if training or batch_stats_at_eval:
            mu, var = x.mean(axis=axis, keepdims=axis == 1), x.var(axis=axis, ddof=ddof, keepdims=axis == 1)
            if not training or no_update:
                new = dict(running)
            elif running_ddof is not None:
                new = {"mean": momentum * running["mean"] + (1 - momentum) * mu,
                       "var": momentum * running["var"] + (1 - momentum) * x.var(axis=0, ddof=running_ddof)}
            elif swapped_momentum:
                new = {"mean": momentum * mu + (1 - momentum) * running["mean"],
                       "var": momentum * var + (1 - momentum) * running["var"]}
            else:
                new = {"mean": momentum * running["mean"] + (1 - momentum) * mu,
                       "var": momentum * running["var"] + (1 - momentum) * var}
        else:
            mu, var, new = running["mean"], running["var"], dict(running)
        x_hat = (x - mu) / (np.sqrt(var) + eps) if eps_outside else (x - mu) / np.sqrt(var + eps)
        return gamma * x_hat + beta, None, new

    return forward


def batchnorm_backward_expected(x, gamma, beta, running, training, momentum, eps, dout):
    _, cache, _ = normalization.batchnorm_forward(x, gamma, beta, _running_copy(running),
                                                  training=training, momentum=momentum, eps=eps)
    return normalization.batchnorm_backward(dout, cache)


def run_batchnorm_backward(function, forward, x, gamma, beta, running, training, momentum, eps, dout):
    result = forward(x, gamma, beta, _running_copy(running), training, momentum, eps)
    cache = _tuple(result, "batchnorm_forward", ("out", "cache", "new_running"))[1]
    return function(dout, cache)


def batchnorm_numerical(forward, x, gamma, beta, running, training, momentum, eps, dout):
    """Central differences of the student's own forward, with respect to x, gamma and beta.

    The step for x is scaled to the features' spread (the output depends on x / std(x), so a step of
    1e-5 on a spread of 0.003 would be a relative step of 3e-3, and its truncation error would swamp
    the tolerance). With two examples each x_hat is +-1 whatever x, so dx is rounding noise near 0:
    nothing to compare it with (None).
    """

    def out(x, gamma, beta):
        return forward(x, gamma, beta, _running_copy(running), training, momentum, eps)[0]

    step = GRAD_STEP * min(1.0, float(np.sqrt(np.var(x, axis=0).min() + eps))) if training else GRAD_STEP
    return (
        None if training and len(x) <= 2 else gradcheck.numerical_gradient_array(lambda v: out(v, gamma, beta), x, dout, step),
        gradcheck.numerical_gradient_array(lambda v: out(x, v, beta), gamma, dout),
        gradcheck.numerical_gradient_array(lambda v: out(x, gamma, v), beta, dout),
    )


def _batchnorm_backward_mistake(dx_of, dgamma_of=None, dbeta_of=None):
    """A wrong backward from nnlib's cache ``(x_hat, gamma, inv_std, training, x_dtype, beta_dtype)``."""

    def backward(dout, cache):
        x_hat, gamma, inv_std, training, _, _ = cache
        dgamma = (dgamma_of or (lambda d, xh: (d * xh).sum(axis=0)))(dout, x_hat)
        dbeta = (dbeta_of or (lambda d: d.sum(axis=0)))(dout)
        return dx_of(dout, x_hat, gamma, inv_std, training), dgamma, dbeta

    return backward


def _right_dx(dout, x_hat, gamma, inv_std, training):
    if not training:
        return gamma * inv_std * dout
    return gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))


def batchnorm_cases(with_dout):
    def draw(n, d, training=True, dtype=np.float64, spread=None, momentum=0.9, eps=1e-5, transposed=False):
        def inputs(rng):
            scale = rng.uniform(0.5, 3.0, d) if spread is None else np.full(d, spread)
            x = rng.uniform(-3, 3, d) + scale * rng.standard_normal((n, d))
            if transposed:
                x = np.asfortranarray(x)  # the same values, column-major: x.T of a (D, N) array
            gamma, beta = rng.uniform(0.5, 2.0, d), rng.standard_normal(d)
            running = {"mean": rng.standard_normal(d).astype(dtype), "var": rng.uniform(0.5, 2.0, d).astype(dtype)}
            x, gamma, beta = (a.astype(dtype, copy=False) for a in (x, gamma, beta))
            args = (x, gamma, beta, running, training, momentum, eps)
            return args + (rng.standard_normal((n, d)).astype(dtype),) if with_dout else args

        return inputs

    return (
        Case("training, a batch of 8 examples with 4 features", draw(8, 4)),
        Case("evaluation (training=False): the running statistics, 5 examples, 3 features", draw(5, 3, training=False)),
        Case("training, float32, 6 examples, 5 features", draw(6, 5, dtype=np.float32)),
        Case("training, features with a small spread (std 0.003), where eps matters", draw(10, 3, spread=0.003)),
        Case("training, momentum = 0.5 and eps = 1e-3", draw(7, 2, momentum=0.5, eps=1e-3)),
        Case("training, the smallest batch: 2 examples, 3 features", draw(2, 3)),
        Case("training, a column-major (non-contiguous rows) x of 6 examples, 4 features", draw(6, 4, transposed=True)),
        Case("evaluation, a batch of one example, 3 features", draw(1, 3, training=False)),
        Case("training, 16 examples, 7 features", draw(16, 7), hidden=True),
        Case("evaluation, a batch of one example, 4 features", draw(1, 4, training=False), hidden=True),
        Case("evaluation, float32, 6 examples, 2 features", draw(6, 2, training=False, dtype=np.float32), hidden=True),
        Case("training, momentum = 0.99, small spread (std 0.01)", draw(9, 3, spread=0.01, momentum=0.99), hidden=True),
        Case("training, a column-major x of 5 examples, 3 features", draw(5, 3, transposed=True), hidden=True),
    )


# -- 7. mini-batch SGD ----------------------------------------------------------------------------------


def minibatch_sgd_reference(loss_fn, params, x, y, lr, batch_size, epochs, rng):
    """nnlib's ``optim.minibatch_sgd`` in the student's signature (every argument by position)."""
    return optim.minibatch_sgd(loss_fn, params, x, y, lr=lr, batch_size=batch_size, epochs=epochs, rng=rng)


def _minibatch_flat(loop):
    def flat(x, y, lr, batch_size, epochs, seed, *arrays):
        params, losses = loop(dense.two_layer_loss, _as_dict(arrays), x, y, lr, batch_size, epochs,
                              np.random.default_rng(seed))
        return (*(params[k] for k in KEYS), np.asarray(losses, dtype=np.float64))

    return flat


def run_minibatch_sgd(function, forward, x, y, lr, batch_size, epochs, seed, *arrays):
    params = _as_dict(arrays)
    given = dict(params)
    result = function(dense.two_layer_loss, params, x, y, lr, batch_size, epochs, np.random.default_rng(seed))
    new, losses = _tuple(result, "minibatch_sgd", ("params", "losses"))
    _require_untouched(params, given, "minibatch_sgd")
    try:
        losses = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"minibatch_sgd should return the losses as a list of numbers, got {_describe(losses)}.")
    return (*_unpack(new, "minibatch_sgd", "the new params as a dict"), losses)


def _minibatch_mistake(*, drop_last=False, shuffle="every epoch", per_epoch=False):
    def loop(loss_fn, params, x, y, lr, batch_size, epochs, rng):
        losses, n = [], len(x)
        order = order_y = rng.permutation(n) if shuffle == "once" else np.arange(n)
        for _ in range(epochs):
            if shuffle == "every epoch":
                order = order_y = rng.permutation(n)
            elif shuffle == "separately":
                order, order_y = rng.permutation(n), rng.permutation(n)
            stop = n - n % batch_size if drop_last else n
            epoch = []
            for start in range(0, stop, batch_size):
                idx = order[start:start + batch_size]
                idy = order_y[start:start + batch_size]
                loss, grads = loss_fn(params, x[idx], y[idy])
                epoch.append(loss)
                params = {k: params[k] - lr * grads[k] for k in params}
            losses += [float(np.mean(epoch))] if per_epoch else epoch
        return params, losses

    return loop


def minibatch_cases():
    def draw(n, epochs, batch_size, d=2, h=4, k=3):
        def inputs(rng):
            x, y, *weights = _network(rng, n, d, h, k)
            return (x, y, float(rng.uniform(0.05, 0.5)), batch_size, epochs, int(rng.integers(2**31)), *weights)

        return inputs

    return (
        Case("23 examples in batches of 5 (the last one holds 3), 3 epochs", draw(23, 3, 5)),
        Case("a batch size larger than the data: one batch of 7 per epoch, 2 epochs", draw(7, 2, 10)),
        Case("batches of one, 6 examples, one epoch", draw(6, 1, 1)),
        Case("20 examples in batches of 4 (no partial batch), 2 epochs", draw(20, 2, 4)),
        Case("one epoch of 31 examples in batches of 8", draw(31, 1, 8, d=3, h=5, k=2), hidden=True),
        Case("40 examples in batches of 8, 3 epochs", draw(40, 3, 8), hidden=True),
        Case("17 examples in batches of 6, 4 epochs", draw(17, 4, 6), hidden=True),
    )


# -- 8. a variance-preserving initialisation ------------------------------------------------------------


ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


def spread_through_layers(init_fn, activation, width, depth, seed, n=200, d=300):
    """Standard deviation of the pre-activations ``z = h @ w`` of each of ``depth`` layers (no bias),
    from standard normal inputs of shape (n, d), each w drawn by ``init_fn(fan_in, fan_out, activation, rng)``."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d))
    spreads, fan_in = [], d
    for _ in range(depth):
        w = init_fn(fan_in, width, activation, rng)
        if not isinstance(w, np.ndarray) or w.shape != (fan_in, width) or w.dtype != np.float64:
            got = f"{_describe(w)} of dtype {w.dtype}" if isinstance(w, np.ndarray) else _describe(w)
            raise TypeError(f"variance_preserving_init({fan_in}, {width}, {activation!r}, rng) should return a float64 "
                            f"array of shape ({fan_in}, {width}), got {got}.")
        with np.errstate(over="ignore", invalid="ignore"):
            z = h @ w
            spreads.append(float(np.std(z)) if np.all(np.isfinite(z)) else np.inf)
            h = ACTIVATIONS[activation](z)
        fan_in = width
    return np.array(spreads)


def where_the_spread_is(spreads):
    """-1 where the spread vanished below the band, 0 inside it, 1 where it exploded above it."""
    low, high = SPREAD_BAND
    return np.where(spreads < low, -1.0, np.where(spreads > high, 1.0, 0.0))


def variance_preserving_reference(fan_in, fan_out, activation, rng):
    """He (normal) for ReLU, Xavier/Glorot (normal) for tanh."""
    if activation == "relu":
        return init.he_normal((fan_in, fan_out), rng=rng)
    return init.xavier_normal((fan_in, fan_out), rng=rng)


def run_variance_preserving_init(function, forward, activation, features, width, seed):
    return where_the_spread_is(spread_through_layers(function, activation, width, INIT_DEPTH, seed, d=features))


def variance_preserving_expected(activation, features, width, seed):
    return (np.zeros(INIT_DEPTH),)


def _init_mistake(std_of):
    def initialise(fan_in, fan_out, activation, rng):
        return std_of(fan_in, fan_out, activation) * rng.standard_normal((fan_in, fan_out))

    return initialise


def _init_uniform_mistake(fan_in, fan_out, activation, rng):
    a = np.sqrt(2.0 / fan_in) if activation == "relu" else np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def init_cases():
    """300 input features into layers of 256 to 320 units; and a wide input into narrow layers (6400 features
    into 64 units, 8000 into 80), where a rule on fan_out instead of fan_in leaves the first layer's spread
    sqrt(2 * 100) = 14 times the input's, above the band (a square layer cannot tell the fans apart)."""

    def draw(activation, width, features=300):
        return lambda rng: (activation, features, width, int(rng.integers(2**31)))

    return (
        Case(f"ReLU, 300 features into {INIT_DEPTH} layers of 256 units", draw("relu", 256)),
        Case(f"tanh, 300 features into {INIT_DEPTH} layers of 256 units", draw("tanh", 256)),
        Case(f"ReLU, 6400 features into {INIT_DEPTH} layers of 64 units (fan_in != fan_out)", draw("relu", 64, 6400)),
        Case(f"ReLU, 300 features into {INIT_DEPTH} layers of 320 units", draw("relu", 320), hidden=True),
        Case(f"tanh, 300 features into {INIT_DEPTH} layers of 300 units", draw("tanh", 300), hidden=True),
        Case(f"ReLU, 8000 features into {INIT_DEPTH} layers of 80 units", draw("relu", 80, 8000), hidden=True),
    )


# -- 9. the synthesis: digits ------------------------------------------------------------------------------


def digits_accuracy(params, x_train, x_val, y_val):
    """Held-out accuracy of affine - batchnorm - ReLU - affine, in evaluation mode: the batchnorm
    statistics are those of the whole training set (population statistics), dropout is off."""
    # Computed here rather than with nnlib's batchnorm_forward: this runs while the check watches for
    # calls to the functions the chapter asks students to write.
    z = x_train @ params["W1"] + params["b1"]
    mean, var = z.mean(axis=0), z.var(axis=0)
    h = params["gamma"] * (x_val @ params["W1"] + params["b1"] - mean) / np.sqrt(var + 1e-5) + params["beta"]
    scores = np.maximum(h, 0) @ params["W2"] + params["b2"]
    return float(np.mean(np.argmax(scores, axis=1) == y_val))


def run_train_digits(function, forward, x_train, y_train, x_val, y_val, seed):
    params = function(x_train, y_train, np.random.default_rng(seed))
    arrays = _unpack(params, "train_digits", "the trained parameters as a dict", keys=DIGITS_KEYS)
    with np.errstate(all="ignore"):
        accuracy = digits_accuracy(dict(zip(DIGITS_KEYS, arrays)), x_train, x_val, y_val)
    return min(accuracy, DIGITS_THRESHOLD)


def train_digits_expected(x_train, y_train, x_val, y_val, seed):
    return DIGITS_THRESHOLD


def digits_network_loss(params, x, y, *, lam, drop_prob, rng):
    """The synthesis network's training loss and gradients, from nnlib's layers (the reference)."""
    z1, c1 = dense.affine_forward(x, params["W1"], params["b1"])
    a1, c2, _ = normalization.batchnorm_forward(z1, params["gamma"], params["beta"], None, training=True)
    h1 = np.maximum(a1, 0)
    d1, c3 = regularization.dropout_forward(h1, drop_prob, training=True, rng=rng)
    scores, c4 = dense.affine_forward(d1, params["W2"], params["b2"])
    loss, dscores = softmax_cross_entropy(scores, y)
    dd1, dW2, db2 = dense.affine_backward(dscores, c4)
    da1 = regularization.dropout_backward(dd1, c3) * (a1 > 0)
    dz1, dgamma, dbeta = normalization.batchnorm_backward(da1, c2)
    _, dW1, db1 = dense.affine_backward(dz1, c1)
    grads = {"W1": dW1, "b1": db1, "gamma": dgamma, "beta": dbeta, "W2": dW2, "b2": db2}
    loss += regularization.l2_penalty([params["W1"], params["W2"]], lam)
    for k in ("W1", "W2"):
        grads[k] = grads[k] + regularization.l2_penalty_gradient(params[k], lam)
    return loss, grads


def initial_digits_params(d, hidden, k, rng, zero=False):
    if zero:
        return {"W1": np.zeros((d, hidden)), "b1": np.zeros(hidden), "gamma": np.ones(hidden),
                "beta": np.zeros(hidden), "W2": np.zeros((hidden, k)), "b2": np.zeros(k)}
    return {"W1": init.he_normal((d, hidden), rng=rng), "b1": np.zeros(hidden),
            "gamma": np.ones(hidden), "beta": np.zeros(hidden),
            "W2": init.xavier_normal((hidden, k), rng=rng), "b2": np.zeros(k)}


#: The reference's trained parameters by (data, generator state): the graded cases use a fixed seed,
#: so the tests of the catalogue, which run the reference dozens of times, train each case once.
_TRAINED = {}


def train_digits_reference(x, y, rng, **options):
    """nnlib's answer: 15 epochs of mini-batch SGD (batches of 50, lr 0.3, lambda 1e-4, drop_prob 0.1) on
    256-64-10 with batch normalization; remembered for the same data and generator state."""
    if options:
        return _train_digits(x, y, rng, **options)
    key = (hashlib.sha1(np.ascontiguousarray(x)).hexdigest(), hashlib.sha1(np.ascontiguousarray(y)).hexdigest(),
           repr(rng.bit_generator.state))
    if key not in _TRAINED:
        _TRAINED[key] = _train_digits(x, y, rng)
    return {k: v.copy() for k, v in _TRAINED[key].items()}


def _train_digits(x, y, rng, *, hidden=64, lam=1e-4, drop_prob=0.1, lr=0.3, epochs=15, batch_size=50,
                  shuffle_labels_apart=False, zero_init=False):
    params = initial_digits_params(x.shape[1], hidden, 10, rng, zero=zero_init)

    def loss_fn(p, xb, yb):
        return digits_network_loss(p, xb, yb, lam=lam, drop_prob=drop_prob, rng=rng)

    if shuffle_labels_apart:
        loop = _minibatch_mistake(shuffle="separately")
        return loop(loss_fn, params, x, y, lr, batch_size, epochs, rng)[0]
    return minibatch_sgd_reference(loss_fn, params, x, y, lr, batch_size, epochs, rng)[0]


#: The class names of the synthesis's cases: digit d is labelled ``RENAMED[case][d]``, in the training and the
#: held-out labels alike. Every class moves (no fixed point), so that a train_digits that ignores the x and y
#: it is given (loading the shipped digits itself, held-out split included) scores near 0, while a network
#: trained on what it is given learns the renamed classes as well as the real ones.
RENAMED = ((3, 7, 0, 9, 1, 8, 5, 2, 6, 4), (1, 2, 3, 4, 5, 6, 7, 8, 9, 0))


def digits_slices(train, val, offset=0, val_offset=0, seed=0, rename=None):
    """A slice of the shipped digits, flattened to (N, 256) float64: training from the training split,
    validation from the test split (held out: never passed to the student's function), and the fixed
    seed of the generator the student's function receives (the same on every run: a training is
    graded on one fixed draw, not on the luck of a fresh one). ``rename``: the label of each digit."""

    def inputs(rng):
        from nnlib.data import load_digits

        d = load_digits()
        x_tr = d["x_train"][offset:offset + train].reshape(train, -1).astype(np.float64)
        x_va = d["x_test"][val_offset:val_offset + val].reshape(val, -1).astype(np.float64)
        y_tr, y_va = d["y_train"][offset:offset + train], d["y_test"][val_offset:val_offset + val]
        if rename is not None:
            y_tr, y_va = np.asarray(rename)[y_tr], np.asarray(rename)[y_va]
        return x_tr, y_tr, x_va, y_va, seed

    return inputs


def train_digits_cases():
    return (
        Case("1000 training digits, 500 held-out digits, seed 0, the classes renamed 0->3, 1->7, 2->0, ... "
             "(learn the labels you are given)", digits_slices(1000, 500, rename=RENAMED[0])),
        Case("another 1000 training digits, another 500 held-out digits, seed 1, the classes renamed d->d+1 (mod 10)",
             digits_slices(1000, 500, offset=3000, val_offset=1000, seed=1, rename=RENAMED[1]),
             hidden=True),
    )


# -- the catalogue ---------------------------------------------------------------------------------------


EXERCISES = (
    Exercise(
        "regularized_loss",
        regularized_loss_flat,
        regularized_loss_cases(),
        solution=regularized_loss_reference,
        outputs=("loss",) + tuple(f"grads[{k!r}]" for k in KEYS),
        run=run_regularized_loss,
        arg_names=("x", "y", "lam") + tuple(f"params[{k!r}]" for k in KEYS),
        forward="regularized_loss",
        numerical=regularized_loss_numerical,
        mistakes=(
            Mistake("the biases are penalised too: the penalty is on the weights W1 and W2 only",
                    _regularized_mistake(penalise_biases=True)),
            Mistake("lambda is divided by N: the penalty lam * sum(W**2) is added once to the mean data loss, "
                    "it is not a per-example term", _regularized_mistake(divide_by_n=True)),
            Mistake("the factor 2 is missing from the penalty's gradient: differentiate lam * w**2 again (the power rule)",
                    _regularized_mistake(grad_factor=1.0)),
            Mistake("the penalty is (lam / 2) * sum(W**2), another convention: this course's is lam * sum(W**2)",
                    _regularized_mistake(grad_factor=1.0, loss_factor=0.5)),
            Mistake("the penalty is missing from the loss value (only the gradients have it)",
                    _regularized_mistake(loss_factor=0.0)),
        ),
    ),
    Exercise(
        "weight_decay_step",
        weight_decay_reference,
        weight_decay_cases(),
        arg_names=("w", "dw", "lr", "lam"),
        mistakes=(
            Mistake("the factor 2 is missing from the penalty's gradient (exercise 1): differentiate lam * w**2 again",
                    lambda w, dw, lr, lam: (1 - lr * lam) * w - lr * dw),
            Mistake("the learning rate is missing from the decay: the penalty's gradient is scaled by lr like dw",
                    lambda w, dw, lr, lam: (1 - 2 * lam) * w - lr * dw),
            Mistake("the weights grow: a step against the penalty's gradient shrinks them",
                    lambda w, dw, lr, lam: (1 + 2 * lr * lam) * w - lr * dw),
            Mistake("the decay multiplies the whole step: only w itself is shrunk, not the step on the data gradient",
                    lambda w, dw, lr, lam: (1 - 2 * lr * lam) * (w - lr * dw)),
        ),
    ),
    Exercise(
        "dropout_forward",
        dropout_forward_expected,
        dropout_cases(with_dout=False),
        solution=dropout_forward_solution,
        outputs=("out",),
        run=run_dropout_forward,
        arg_names=("x", "drop_prob", "training", "rng"),
        mistakes=(
            Mistake("units are dropped in evaluation too: with training=False dropout is the identity",
                    _dropout_forward_mistake(lambda x, u, p, t: x * (u >= p) / (1 - p))),
            Mistake("the kept units are scaled by drop_prob: choose the constant c so that E[out] = x, "
                    "with E[m_i] the probability of keeping a unit", _dropout_forward_mistake(lambda x, u, p, t: x * (u >= p) * p if t else x.copy())),
            Mistake("the kept units are not rescaled: find the constant c that makes the expected output x",
                    _dropout_forward_mistake(lambda x, u, p, t: x * (u >= p) if t else x.copy())),
            Mistake("drop_prob is used as the probability of keeping a unit: it is the probability of dropping one",
                    _dropout_forward_mistake(lambda x, u, p, t: x * (u < p) / p if t else x.copy())),
            Mistake("the kept units are those with u < 1 - drop_prob: right on average, but the statement fixes the "
                    "draw, keep unit i when u[i] >= drop_prob",
                    _dropout_forward_mistake(lambda x, u, p, t: x * (u < 1 - p) / (1 - p) if t else x.copy())),
            Mistake("one mask for the last axis, shared by every example (rng.random of shape (D,)): draw one number "
                    "per unit of every example, u = rng.random(x.shape)", _dropout_shared_mask),
        ),
    ),
    Exercise(
        "dropout_backward",
        dropout_backward_expected,
        dropout_cases(with_dout=True),
        solution=regularization.dropout_backward,
        run=run_dropout_backward,
        forward="dropout_forward",
        forward_reference=dropout_forward_for_mistakes,
        numerical=dropout_numerical,
        arg_names=("x", "drop_prob", "training", "rng", "dout"),
        mistakes=(
            Mistake("a new mask is drawn in the backward pass: use the forward's mask, kept in the cache",
                    _dropout_backward_mistake(lambda d, c: d * (c["rng"].random(d.shape) >= c["drop_prob"])
                                              / (1 - c["drop_prob"]) if c["training"] else d.copy())),
            Mistake("the gradient is not rescaled: the forward divided the kept units by 1 - drop_prob, so must the backward",
                    _dropout_backward_mistake(lambda d, c: d * c["keep"] if c["training"] else d.copy())),
            Mistake("the mask is applied after an evaluation forward too: there dropout was the identity, so dx = dout",
                    _dropout_backward_mistake(lambda d, c: d * c["keep"] / (1 - c["drop_prob"]))),
            Mistake("dx is the forward's output, not dout through the mask",
                    _dropout_backward_mistake(lambda d, c: c["x"] * c["keep"] / (1 - c["drop_prob"]) if c["training"] else c["x"].copy())),
        ),
    ),
    Exercise(
        "batchnorm_forward",
        batchnorm_forward_expected,
        batchnorm_cases(with_dout=False),
        solution=batchnorm_forward_solution,
        outputs=("out", 'new_running["mean"]', 'new_running["var"]'),
        run=run_batchnorm_forward,
        arg_names=("x", "gamma", "beta", "running", "training", "momentum", "eps"),
        mistakes=(
            Mistake("the batch statistics are used in evaluation: there the running mean and variance normalise x",
                    _batchnorm_forward_mistake(batch_stats_at_eval=True)),
            Mistake("the momentum weighs the new batch statistic: running = momentum * running + (1 - momentum) * batch",
                    _batchnorm_forward_mistake(swapped_momentum=True)),
            Mistake("the statistics are taken over the wrong axis (each example's features): average over the batch, axis 0",
                    _batchnorm_forward_mistake(axis=1)),
            Mistake("eps is added outside the square root: divide by sqrt(var + eps)",
                    _batchnorm_forward_mistake(eps_outside=True)),
            Mistake("the variance is the unbiased one (divided by N - 1): batch normalisation uses the mean of the "
                    "squared deviations, 1/N", _batchnorm_forward_mistake(ddof=1)),
            Mistake("the running statistics are not updated in training: return the moving averages",
                    _batchnorm_forward_mistake(no_update=True)),
            Mistake("the running variance averages the unbiased batch variance (1/(N - 1), as PyTorch does): here it "
                    "averages the biased 1/N variance that normalises the batch", _batchnorm_forward_mistake(running_ddof=1)),
        ),
    ),
    Exercise(
        "batchnorm_backward",
        batchnorm_backward_expected,
        batchnorm_cases(with_dout=True),
        solution=normalization.batchnorm_backward,
        outputs=("dx", "dgamma", "dbeta"),
        run=run_batchnorm_backward,
        forward="batchnorm_forward",
        forward_reference=batchnorm_forward_solution,
        numerical=batchnorm_numerical,
        arg_names=("x", "gamma", "beta", "running", "training", "momentum", "eps", "dout"),
        mistakes=(
            Mistake("dx ignores that the batch mean and variance depend on x: in training every x_i moves mu and "
                    "var, which adds two terms", _batchnorm_backward_mistake(
                        lambda d, xh, g, s, t: g * s * d)),
            Mistake("dx ignores that the batch variance depends on x (the mean's term is there)",
                    _batchnorm_backward_mistake(lambda d, xh, g, s, t: g * s * (d - d.mean(axis=0)) if t else g * s * d)),
            Mistake("dx ignores that the batch mean depends on x (the variance's term is there)",
                    _batchnorm_backward_mistake(lambda d, xh, g, s, t: g * s * (d - xh * (d * xh).mean(axis=0)) if t else g * s * d)),
            Mistake("gamma multiplies only the direct path: it scales dout before it reaches x_hat, so it multiplies "
                    "the terms through the mean and the variance too", _batchnorm_backward_mistake(
                        lambda d, xh, g, s, t: s * (g * d - d.mean(axis=0) - xh * (d * xh).mean(axis=0)) if t else g * s * d)),
            Mistake("after an evaluation forward the statistics are constants: the paths through the mean and the variance are gone",
                    _batchnorm_backward_mistake(lambda d, xh, g, s, t: _right_dx(d, xh, g, s, True))),
            Mistake("dgamma is missing x_hat: out = gamma * x_hat + beta, and gamma is shared by every row",
                    _batchnorm_backward_mistake(_right_dx, dgamma_of=lambda d, xh: d.sum(axis=0))),
            Mistake("dgamma and dbeta are averaged over the batch: gamma and beta are shared by every row, so sum",
                    _batchnorm_backward_mistake(_right_dx, dgamma_of=lambda d, xh: (d * xh).mean(axis=0),
                                                dbeta_of=lambda d: d.mean(axis=0))),
        ),
    ),
    Exercise(
        "minibatch_sgd",
        _minibatch_flat(minibatch_sgd_reference),
        minibatch_cases(),
        solution=minibatch_sgd_reference,
        outputs=KEYS + ("losses",),
        run=run_minibatch_sgd,
        arg_names=("x", "y", "lr", "batch_size", "epochs", "the rng's seed") + tuple(f"params[{k!r}]" for k in KEYS),
        mistakes=(
            Mistake("the last partial batch is dropped: every example is used once per epoch, the last batch may be smaller",
                    _minibatch_mistake(drop_last=True)),
            Mistake("the data are shuffled only once: draw a new order with rng.permutation(N) at the start of every epoch",
                    _minibatch_mistake(shuffle="once")),
            Mistake("the data are never shuffled: draw the order with rng.permutation(N) at the start of every epoch",
                    _minibatch_mistake(shuffle="never")),
            Mistake("x and y are shuffled with two different permutations: the examples lose their labels",
                    _minibatch_mistake(shuffle="separately")),
            Mistake("one loss per epoch: record the loss of every step (every batch), before its update",
                    _minibatch_mistake(per_epoch=True)),
        ),
    ),
    Exercise(
        "variance_preserving_init",
        variance_preserving_expected,
        init_cases(),
        solution=variance_preserving_reference,
        outputs=(f"where the pre-activations' spread is at each of the {INIT_DEPTH} layers "
                 f"(-1 vanished below {SPREAD_BAND[0]}, 0 inside [{SPREAD_BAND[0]}, {SPREAD_BAND[1]:g}], "
                 f"1 exploded above {SPREAD_BAND[1]:g})",),
        run=lambda function, forward, *args: (run_variance_preserving_init(function, forward, *args),),
        arg_names=("activation", "the input's features", "width", "the rng's seed"),
        mistakes=(
            Mistake("0.01 * randn: each layer multiplies the spread by about 0.01 * sqrt(fan_in), and it vanishes",
                    _init_mistake(lambda a, b, act: 0.01)),
            Mistake("randn: each layer multiplies the spread by about sqrt(fan_in), and it explodes",
                    _init_mistake(lambda a, b, act: 1.0)),
            Mistake("the variance is right for tanh but ReLU zeroes half its inputs: E[h**2] is half of Var(z), not all of it",
                    _init_mistake(lambda a, b, act: np.sqrt(1.0 / a))),
            Mistake("Var(w) = 2 / fan_out: the spread of z = h @ w grows with the number of terms in the sum, "
                    "fan_in; a rule on fan_out breaks where the two differ (a wide input into a narrow layer)",
                    _init_mistake(lambda a, b, act: np.sqrt(2.0 / b) if act == "relu" else np.sqrt(2.0 / (a + b)))),
            Mistake("U(-a, a) with a = sqrt(2 / fan_in) has variance a**2 / 3, three times too small: the "
                    "variance, not the half-width, must be 2 / fan_in", _init_uniform_mistake),
        ),
    ),
    Exercise(
        "train_digits",
        lambda *args: (train_digits_expected(*args),),
        train_digits_cases(),
        solution=train_digits_reference,
        outputs=(f"the held-out accuracy (counted up to the {DIGITS_THRESHOLD:.2f} to reach)",),
        run=lambda function, forward, *args: (run_train_digits(function, forward, *args),),
        arg_names=("x", "y", "x_val", "y_val", "the rng's seed"),
        mistakes=(
            Mistake("the parameters are returned untrained: run minibatch_sgd on the loss and return its parameters",
                    lambda x, y, rng: initial_digits_params(x.shape[1], 64, 10, rng)),
            Mistake("the weights start at zero: every hidden unit computes the same thing and batch normalisation "
                    "has nothing to normalise; draw them with your variance_preserving_init",
                    lambda x, y, rng: train_digits_reference(x, y, rng, zero_init=True)),
            Mistake("x and y are shuffled with two different permutations: the examples lose their labels",
                    lambda x, y, rng: train_digits_reference(x, y, rng, shuffle_labels_apart=True)),
        ),
    ),
)


#: The nnlib functions this chapter asks students to write themselves (chapter 3's layers and
#: two_layer_loss, optim.sgd_step, the activations and losses stay free to use).
FORBIDDEN = (
    optim.minibatch_sgd,
    regularization.l2_penalty,
    regularization.l2_penalty_gradient,
    regularization.dropout_forward,
    regularization.dropout_backward,
    normalization.batchnorm_forward,
    normalization.batchnorm_backward,
    init.he_normal,
    init.he_uniform,
    init.xavier_normal,
    init.xavier_uniform,
)

CATALOGUE = Catalogue("04_regularization", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
