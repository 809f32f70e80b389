"""Chapter 3's exercises, backpropagation and gradient descent: inputs, references, known mistakes.

The notebook imports ``check`` and ``grade`` from here. The exercises, in the notebook's order:

- ``neuron_forward`` / ``neuron_backward``: the chain rule on one sigmoid neuron with a squared
  error, ``J = (sigmoid(w x + b) - y)**2``, all scalars;
- ``numerical_gradient``: central differences, which then check every other gradient (any step,
  any memory layout of ``x``: the cases hand it transposed and sliced views);
- ``affine_forward`` / ``affine_backward`` and ``relu_forward`` / ``relu_backward``: layers;
- ``two_layer_loss``: affine - ReLU - affine - softmax cross-entropy, loss and gradients;
- ``sgd_update``: ``w = w - eta * dJ/dw`` over a dict of parameters, pure, into a new dict (nnlib's
  rule for one array is ``optim.sgd_step(w, dw, state, lr) -> (w_new, None)``; the exercise keeps
  the dict form a student's training loop needs);
- ``gradient_descent``: the training loop, given a ``loss_fn`` that is not always two_layer_loss;
- ``train_digits``: the synthesis, the student's network trained on 6000 digits and judged on
  2000 held-out ones it never sees (the validation split visibly, the test split hidden).

The engine compares arrays, numbers and tuples of them, and copies only array arguments. So the
exercises that take or return dicts of parameters receive their arrays as separate arguments and
the ``run`` adapters build the dicts (from the engine's copies, so that an in-place update is
reported as a modified input) and unpack the returned dict in a fixed key order. A forward pass
returns ``(out, cache)``; its check compares ``out`` alone (``outputs=("out",)``: the engine
compares as many outputs as are named), and its backward pass is run on the student's own cache.
"""


import functools
import hashlib

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake, trusted
from autograder.exercises._adapters import describe as _describe, pair as _pair
from nnlib import activations as act
from nnlib import data, dense, gradcheck, init, optim
from nnlib.losses import softmax_cross_entropy
from nnlib.tolerances import GRAD_STEP

#: The parameter names of the two-layer network, in the order the checks report them.
KEYS = dense.TWO_LAYER_KEYS


class ParamsModified(Exception):
    """Raised by an adapter when a function changed the dict of parameters it was given."""


# -- adapters: how a student's function is called and its results unpacked -----------------------




def _first(name, pair):
    """Adapter for a forward pass ``f(*args) -> (out, cache)``: the check compares ``out``."""

    def run(function, forward, *args):
        return (_pair(function(*args), name, pair)[0],)

    return run


def _as_dict(arrays):
    return dict(zip(KEYS, arrays))


def _unpack(params, name, what="a dict"):
    """The arrays of ``params`` in ``KEYS`` order, or a TypeError naming what is missing."""
    if not isinstance(params, dict) or set(params) != set(KEYS):
        got = f"keys {sorted(params)}" if isinstance(params, dict) else _describe(params)
        raise TypeError(f"{name} should return {what} with the keys {', '.join(KEYS)}; got {got}.")
    return tuple(params[k] for k in KEYS)


def _require_untouched(params, given, name):
    """Raise ParamsModified if the dict ``params`` no longer holds exactly the arrays in ``given``."""
    if set(params) != set(given) or any(params[k] is not given[k] for k in given):
        changed = sorted(k for k in given if params.get(k) is not given[k]) or sorted(set(params) ^ set(given))
        raise ParamsModified(
            f"{name} changed the dict of parameters it was given (params[{changed[0]!r}] was replaced or removed): "
            f"build a new dict, e.g. {{k: ... for k in params}}, and leave the old one as it was."
        )


# -- references that the checks compare against ---------------------------------------------------


def neuron_forward_reference(w, b, x, y):
    """``J = (sigmoid(w x + b) - y)**2`` and the cache ``(x, y, y_hat)``."""
    z = w * x + b
    y_hat = float(act.sigmoid(np.float64(z)))
    return (y_hat - y) ** 2, (x, y, y_hat)


def neuron_backward_reference(cache):
    """The chain rule: ``dJ/dw = dJ/dy_hat * dy_hat/dz * dz/dw``, and the same with ``dz/db = 1``."""
    x, y, y_hat = cache
    dj_dyhat = 2 * (y_hat - y)
    dyhat_dz = y_hat * (1 - y_hat)
    dz = dj_dyhat * dyhat_dz
    return dz * x, dz


# The references and the checks' numerical gradients below use the catalogue's own central differences and
# ReLU, not nnlib's: nnlib's are this chapter's answers, stubbed in the grading sandbox, where a student's
# visible check (and the backward's fallback to the reference forward) must still run.


def _central(f, x, step=GRAD_STEP):
    """Central differences of the scalar ``f`` at ``x``, element by element, as ``gradcheck.numerical_gradient``."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        try:
            x[i] = original + step
            f_plus = float(f(x))
            x[i] = original - step
            f_minus = float(f(x))
        finally:
            x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * step)
    return grad


def _central_array(f, x, dout, step=GRAD_STEP):
    """Central differences of ``sum(f(x) * dout)``, as ``gradcheck.numerical_gradient_array``."""
    dout = np.asarray(dout, dtype=np.float64)
    return _central(lambda v: np.sum(np.asarray(f(v), dtype=np.float64) * dout), x, step)


def numerical_gradient_expected(f, x, step, layout):
    """Central differences with the case's step, and ``x`` as it is after the call (restored)."""
    return _central(f, x.copy(), step), x


def laid_out(x, layout):
    """A new array with the values of ``x`` in the memory layout a case asks for.

    "contiguous": a plain copy; "transposed": the transpose of a contiguous array (a view, not
    C-contiguous); "sliced": every other column of a wider array (a view with gaps). On the two
    views ``x.reshape(-1)`` is a copy, so perturbing it would not perturb ``x``.
    """
    if layout == "transposed":
        return np.ascontiguousarray(x.T).T
    if layout == "sliced":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    return x.copy()


def relu_forward_reference(x):
    """``(max(0, x), x)`` in the dtype of ``x`` (nnlib's ``elementwise_forward(x, "relu")``, whose cache differs)."""
    return np.maximum(x, np.zeros((), dtype=x.dtype)), x


def relu_backward_reference(dout, cache):
    """The ReLU's backward from ``relu_forward_reference``'s cache, the input ``x``."""
    return dout * (cache > 0)


def relu_backward_expected(x, dout):
    return relu_backward_reference(dout, relu_forward_reference(x)[1])


def affine_backward_expected(x, w, b, dout):
    return dense.affine_backward(dout, dense.affine_forward(x, w, b)[1])


def sgd_update_reference(params, grads, lr):
    return {k: params[k] - lr * grads[k] for k in params}


#: The loss function the check gives a student's gradient_descent: nnlib's two_layer_loss, an
#: answer of this chapter, called by the check's doing, not the student's.
GIVEN_LOSS_FN = trusted(dense.two_layer_loss)

#: The L2 penalty of the other loss function the checks give gradient_descent.
L2_PENALTY = 0.1


def two_layer_loss_l2(params, x, y):
    """two_layer_loss plus ``L2_PENALTY / 2 * (|W1|^2 + |W2|^2)``: a loss_fn that is not the student's
    own two_layer_loss, so that a loop which calls that instead of ``loss_fn`` is caught."""
    loss, grads = dense.two_layer_loss(params, x, y)
    loss += 0.5 * L2_PENALTY * sum(float(np.sum(params[k] ** 2)) for k in ("W1", "W2"))
    return loss, {k: g + L2_PENALTY * params[k] if k.startswith("W") else g for k, g in grads.items()}


GIVEN_L2_LOSS_FN = trusted(two_layer_loss_l2)


# -- numerical gradients of the student's own forward passes ---------------------------------------


class Untrusted(Exception):
    """Raised by a ``numerical`` function when central differences cannot be trusted on this case.

    The engine then compares with nnlib only, and gives no hint about the forward. Marking the
    doubtful elements NaN instead would make the engine compare the remaining ones and call a
    wrong answer that differs only there "consistent with your forward" (wrong advice).
    """


def _require_trusted(conditions):
    if not all(conditions):
        raise Untrusted("central differences are not reliable on this case")


def neuron_numerical(forward, w, b, x, y, h=GRAD_STEP):
    """(dJ/dw, dJ/db) by central differences of the student's forward; NaN where they cannot be trusted.

    J is a scalar, so each gradient is compared on its own, with no larger element to set the
    scale of the relative error. A difference quotient's rounding error is about eps * |J| / h,
    plus, because y_hat - y cancels when y_hat is near y, about eps * sqrt(J) / h. Where the
    gradient is too small for that error to stay below the 1e-7 tolerance (with a margin of 3),
    e.g. a saturated neuron, there is nothing reliable to compare with. The five-point stencil keeps
    the truncation error, O(h**4), negligible.
    """

    def J(w, b):
        return float(forward(w, b, x, y)[0])

    def derivative(g):
        return (8 * (g(h) - g(-h)) - (g(2 * h) - g(-2 * h))) / (12 * h)

    j = abs(J(w, b))
    trusted = 1e-3 * j + 5e-3 * np.sqrt(j)
    grads = (derivative(lambda d: J(w + d, b)), derivative(lambda d: J(w, b + d)))
    _require_trusted(abs(g) >= trusted for g in grads)
    return grads


def affine_numerical(forward, x, w, b, dout):
    return (
        _central_array(lambda v: forward(v, w, b)[0], x, dout),
        _central_array(lambda v: forward(x, v, b)[0], w, dout),
        _central_array(lambda v: forward(x, w, v)[0], b, dout),
    )


def relu_numerical(forward, x, dout):
    _require_trusted([not np.any(np.abs(x) < 2 * GRAD_STEP)])  # the kink: no derivative to compare with
    return _central_array(lambda v: forward(v)[0], x, dout)


def two_layer_numerical(affine_forward, x, y, *arrays):
    """Central differences of the loss built from the student's ``affine_forward``, ReLU and softmax."""
    params = _as_dict(arrays)

    def loss(p):
        hidden = np.maximum(affine_forward(x, p["W1"], p["b1"])[0], 0)
        return softmax_cross_entropy(affine_forward(hidden, p["W2"], p["b2"])[0], y)[0]

    # A hidden unit within a few steps of its kink (z1 = 0) has no usable central difference for
    # any parameter upstream of it: then there is nothing reliable to compare with.
    _require_trusted([not np.any(np.abs(x @ params["W1"] + params["b1"]) < 10 * GRAD_STEP * (1 + np.abs(x).sum(axis=1, keepdims=True)))])
    # A difference quotient carries a rounding error of about eps * |J| / h. A gradient whose largest
    # element is below 1e-3 |J| (tiny weights upstream) cannot be checked at the 1e-7 tolerance.
    floor = 1e-3 * abs(loss(params))
    grads = []
    for k in KEYS:
        numeric = _central(lambda v, k=k: loss({**params, k: v}), params[k].copy())
        _require_trusted([np.abs(numeric).max() >= floor])
        grads.append(numeric)
    return (None, *grads)


# -- run adapters for the exercises on dicts ----------------------------------------------------


class NotRestored(Exception):
    """Raised by the numerical_gradient adapter when x comes back changed by rounding errors only."""


def run_numerical_gradient(function, forward, f, x, step, layout):
    # The student perturbs a copy laid out as the case says: the check then reports x after the
    # call as an output, so that a missing restore is diagnosed like any other mistake. The promise
    # is exact: a change within the comparison's tolerance (original + step - step) is named here.
    given = laid_out(x, layout)
    grad = function(f, given, step)
    after = np.array(given)
    if after.shape == x.shape and not np.array_equal(after, x) and np.allclose(after, x, rtol=1e-6, atol=0):
        index = tuple(int(i) for i in np.argwhere(after != x)[0])
        raise NotRestored(
            f"x is not exactly as it was: x{list(index)} differs from its original value by "
            f"{abs(after[index] - x[index]):.1e}, a rounding error (adding and then subtracting the step does not give "
            f"the original number back); save each original value and write that saved value back."
        )
    return grad, after


def run_neuron_backward(function, forward, w, b, x, y):
    return function(_pair(forward(w, b, x, y), "neuron_forward", "(J, cache)")[1])


def run_affine_backward(function, forward, x, w, b, dout):
    return function(dout, _pair(forward(x, w, b), "affine_forward", "(out, cache)")[1])


def run_relu_backward(function, forward, x, dout):
    return function(dout, _pair(forward(x), "relu_forward", "(out, cache)")[1])


def run_two_layer_loss(function, forward, x, y, *arrays):
    params = _as_dict(arrays)
    given = dict(params)
    loss, grads = _pair(function(params, x, y), "two_layer_loss", "(loss, grads)")
    _require_untouched(params, given, "two_layer_loss")
    return (loss, *_unpack(grads, "two_layer_loss", "grads as a dict"))


def two_layer_loss_flat(x, y, *arrays):
    loss, grads = dense.two_layer_loss(_as_dict(arrays), x, y)
    return (loss, *(grads[k] for k in KEYS))


def _require_new_dict(new, params, snapshot, name):
    """Raise ParamsModified if ``new`` is the dict ``params`` itself. Arrays changed in place are
    left to the engine, whose "modified its input" message names the argument."""
    changed = any(not np.array_equal(params[k], snapshot[k], equal_nan=True) for k in snapshot if k in params)
    if new is params and not changed:
        raise ParamsModified(
            f"{name} returned the very dict it was given: return a new dict (e.g. {{k: ... for k in params}}), "
            f"so that the caller's params and the result are two objects."
        )


def run_sgd_update(function, forward, lr, *arrays):
    params, grads = _as_dict(arrays[:4]), _as_dict(arrays[4:])
    given, snapshot = dict(params), {k: v.copy() for k, v in params.items()}
    new = function(params, grads, lr)
    _require_untouched(params, given, "sgd_update")
    _require_new_dict(new, params, snapshot, "sgd_update")
    return _unpack(new, "sgd_update", "a new dict")


def sgd_update_flat(lr, *arrays):
    new = sgd_update_reference(_as_dict(arrays[:4]), _as_dict(arrays[4:]), lr)
    return tuple(new[k] for k in KEYS)


def run_gradient_descent(function, forward, loss_fn, x, y, lr, num_steps, *arrays):
    params = _as_dict(arrays)
    given, snapshot = dict(params), {k: v.copy() for k, v in params.items()}
    new, losses = _pair(function(loss_fn, params, x, y, lr, num_steps), "gradient_descent", "(params, losses)")
    _require_untouched(params, given, "gradient_descent")
    _require_new_dict(new, params, snapshot, "gradient_descent")
    try:
        losses = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"gradient_descent should return the losses as a list of numbers, got {_describe(losses)}.")
    return (*_unpack(new, "gradient_descent", "the new params as a dict"), losses)


def gradient_descent_flat(loss_fn, x, y, lr, num_steps, *arrays):
    params, losses = _as_dict(arrays), []
    for _ in range(num_steps):  # optim.gradient_descent's loop (stubbed in the grading sandbox)
        loss, grads = loss_fn(params, x, y)
        losses.append(float(loss))
        params = sgd_update_reference(params, grads, lr)
    return (*(params[k] for k in KEYS), np.asarray(losses, dtype=np.float64))


# -- the synthesis: a network trained on digits, judged on held-out digits ------------------------

#: The held-out accuracy train_digits must reach (the chapter's solution reaches about 94%).
DIGITS_THRESHOLD = 0.90
#: The seed of the generator a student's train_digits receives: the same run every time.
DIGITS_SEED = 0
#: How many of the 8000 shipped training digits train; the rest are the validation split.
DIGITS_TRAIN = 6000


@functools.lru_cache(maxsize=1)
def digits_splits():
    """``{"train": (x, y), "validation": (x, y), "test": (x, y)}``: the shipped digits as rows of 256 pixels.

    The first 6000 training images train, the last 2000 validate; the 2000 test images are the
    hidden case's held-out set. Read-only arrays (the checks hand out copies).
    """
    digits = data.load_digits()
    x_train = digits["x_train"].reshape(len(digits["x_train"]), -1)  # (8000, 256) float32
    x_test = digits["x_test"].reshape(len(digits["x_test"]), -1)  # (2000, 256)
    splits = {
        "train": (x_train[:DIGITS_TRAIN], digits["y_train"][:DIGITS_TRAIN]),
        # the hidden case trains on other 6000 training images (its held-out set is the test split)
        "train_hidden": (x_train[-DIGITS_TRAIN:], digits["y_train"][-DIGITS_TRAIN:]),
        "validation": (x_train[DIGITS_TRAIN:], digits["y_train"][DIGITS_TRAIN:]),
        "test": (x_test, digits["y_test"]),
    }
    for arrays in splits.values():
        for a in arrays:
            a.flags.writeable = False
    return splits


def accuracy(params, x, y):
    """The fraction of rows of ``x`` whose highest score is their label ``y``, for the two-layer network."""
    scores = np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]  # (N, K)
    return float(np.mean(np.argmax(scores, axis=1) == y))


def held_out_accuracy(params, x, y):
    """``accuracy`` after checking that ``params`` is a two-layer network for rows of ``x``."""
    _unpack(params, "train_digits", "the trained params as a dict")
    try:
        dense._check_two_layer_params(params, x)
    except ValueError as error:
        raise TypeError(f"train_digits should return the parameters of a two-layer network for 256 pixels: {error}") from None
    if params["W2"].shape[1] != 10:
        raise TypeError(f"train_digits's network should score the 10 classes: params['W2'] has shape {params['W2'].shape}.")
    return accuracy(params, x, y)


def run_train_digits(function, forward, x, y, x_held, y_held):
    # rng by position: the student's signature is train_digits(x, y, rng, on_epoch=None)
    rng = np.random.default_rng(DIGITS_SEED)
    before = rng.bit_generator.state
    params = function(x, y, rng)
    score = held_out_accuracy(params, x_held, y_held)
    if score >= DIGITS_THRESHOLD and rng.bit_generator.state == before:
        raise TypeError("train_digits never drew a number from the generator rng it was given: take the initial "
                        "weights and each epoch's order from rng (e.g. rng.permutation, init.he_normal(..., rng=rng)), "
                        "not from a generator of your own or np.random's global one.")
    # At or above the threshold counts as the threshold itself: the check compares with it exactly.
    return (min(score, DIGITS_THRESHOLD),)


def train_digits_expected(x, y, x_held, y_held):
    return (DIGITS_THRESHOLD,)


def _fingerprint(*arrays):
    digest = hashlib.sha1()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


_TRAINED = {}


def train_digits_reference(x, y, rng, on_epoch=None):
    """nnlib's answer: 8 epochs of minibatch SGD (batches of 50, lr 0.5) on a 256-64-10 network.

    Without ``on_epoch`` the result is remembered for the same data and generator state, so that the
    tests of the catalogue, which run it on many seeds, train once.
    """
    key = (_fingerprint(x, y), repr(rng.bit_generator.state))
    if on_epoch is None and key in _TRAINED:
        params, rng.bit_generator.state = _TRAINED[key]  # rng as the training leaves it
        return dict(params)
    hidden = 64
    params = {"W1": init.he_normal((x.shape[1], hidden), rng=rng), "b1": np.zeros(hidden),
              "W2": 0.1 * init.he_normal((hidden, 10), rng=rng), "b2": np.zeros(10)}
    params, _ = optim.minibatch_sgd(dense.two_layer_loss, params, x, y, lr=0.5, batch_size=50, epochs=8, rng=rng,
                                    on_epoch=on_epoch)
    if on_epoch is None:
        _TRAINED[key] = (dict(params), rng.bit_generator.state)
    return params


# -- inputs -------------------------------------------------------------------------------------


def neuron_cases():
    def draw(scale_x=1.0, target="binary", z_shift=0.0):
        def inputs(rng):
            w, b = rng.standard_normal(2)
            x = scale_x * rng.standard_normal()
            b += z_shift
            y = float(rng.integers(0, 2)) if target == "binary" else float(rng.uniform(0, 1))
            return float(w), float(b), float(x), y

        return inputs

    return (
        Case("w, b, x standard normal, y = 0 or 1", draw()),
        Case("a target y between 0 and 1", draw(target="soft")),
        Case("a large input x (standard deviation 5)", draw(scale_x=5.0)),
        Case("a saturated neuron (w x + b around 6)", draw(z_shift=6.0)),
        Case("x = 0 (and y = 0): the weight gets no gradient",
             lambda rng: (float(rng.standard_normal()), float(rng.standard_normal()), 0.0, 0.0)),
        Case("another draw: w, b, x standard normal, y = 0 or 1", draw(), hidden=True),
        Case("a nearly saturated neuron (w x + b around 8)", draw(z_shift=8.0), hidden=True),
        Case("x = 0: the weight gets no gradient", lambda rng: (float(rng.standard_normal()), float(rng.standard_normal()), 0.0, 1.0), hidden=True),
    )


def _sin_sum(rng, shape):
    a = rng.standard_normal(shape)
    return lambda v: float(np.sum(a * np.sin(v)))


def _quadratic(rng, n):
    m = rng.standard_normal((n, n))
    return lambda v: float(v @ m @ v + np.sum(v**3))


def _log_sum_exp(rng, shape):
    scale = rng.uniform(0.5, 2.0, shape)
    return lambda v: float(np.log(np.sum(np.exp(scale * v))))


def numerical_gradient_cases():
    def draw(make_f, shape, step=GRAD_STEP, layout="contiguous", scale=1.0):
        return lambda rng: (make_f(rng, shape), scale * rng.standard_normal(shape), step, layout)

    def quadratic(rng, shape):
        return _quadratic(rng, shape[0])

    return (
        Case("f(x) = sum(a * sin(x)), x of shape (5,)", draw(_sin_sum, (5,))),
        Case("f(x) = x^T M x + sum(x**3): each partial derivative depends on all of x, x of shape (4,)", draw(quadratic, (4,))),
        Case("f(x) = sum(a * sin(x)) for a matrix x of shape (3, 4)", draw(_sin_sum, (3, 4))),
        Case("a larger step, step = 1e-2, and x of magnitude up to about 10 (shape (6,))", draw(_sin_sum, (6,), step=1e-2, scale=4.0)),
        Case("x a transposed view, not contiguous in memory (shape (3, 4))", draw(_sin_sum, (3, 4), layout="transposed")),
        Case("x every other column of a wider array, a sliced view (shape (2, 3))", draw(_sin_sum, (2, 3), layout="sliced")),
        Case("f(x) = log(sum(exp(s * x))) for x of shape (2, 2, 3)", draw(_log_sum_exp, (2, 2, 3))),
        Case("a single element, shape (1, 1)", draw(_sin_sum, (1, 1))),
        Case("f(x) = log(sum(exp(s * x))) for x of shape (2, 3, 2)", draw(_log_sum_exp, (2, 3, 2)), hidden=True),
        Case("a single element, shape (1,)", draw(_sin_sum, (1,)), hidden=True),
        Case("f(x) = x^T M x + sum(x**3), x of shape (7,)", draw(quadratic, (7,)), hidden=True),
        Case("a larger step, step = 3e-3, f(x) = x^T M x + sum(x**3), x of magnitude up to about 10 (shape (5,))",
             draw(quadratic, (5,), step=3e-3, scale=4.0), hidden=True),
        Case("a transposed view of shape (2, 3, 2)", draw(_log_sum_exp, (2, 3, 2), layout="transposed"), hidden=True),
        Case("a sliced view of shape (4, 2)", draw(_sin_sum, (4, 2), layout="sliced"), hidden=True),
    )


def affine_cases(with_dout):
    def draw(n, d, m, dtype=np.float64):
        def inputs(rng):
            args = (rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m))
            if with_dout:
                args += (rng.standard_normal((n, m)),)
            return tuple(a.astype(dtype) for a in args)

        return inputs

    return (
        Case("a batch of 4 rows, D = 5 features, M = 3 outputs", draw(4, 5, 3)),
        Case("a batch of one, D = 3, M = 2", draw(1, 3, 2)),
        Case("a single output, M = 1 (N = 6, D = 4)", draw(6, 4, 1)),
        Case("float32 inputs (N = 3, D = 4, M = 5)", draw(3, 4, 5, np.float32)),
        Case("square weights, N = D = M = 2", draw(2, 2, 2)),
        Case("a batch of 10, D = 7, M = 4", draw(10, 7, 4), hidden=True),
        Case("square weights, N = D = M = 3", draw(3, 3, 3), hidden=True),
        Case("float32 inputs, a batch of 8, D = 2, M = 6", draw(8, 2, 6, np.float32), hidden=True),
    )


def _tiny_around_kink(rng, shape, dtype=np.float64):
    """Inputs within 1e-6 of the kink, positive and negative, down to subnormal numbers, and exact zeros:
    a ReLU that hard-codes a threshold (x > 1e-8, x > -1e-8) instead of comparing with 0 is caught."""
    lowest = -300 if dtype == np.float64 else -40  # 1e-40 is a float32 subnormal
    x = 10.0 ** rng.uniform(lowest, -6, shape) * rng.choice([-1.0, 1.0], shape)
    x.flat[:: 5] = 0.0
    return x.astype(dtype)


def relu_cases(with_dout):
    def draw(make_x):
        def inputs(rng):
            x = make_x(rng)
            return (x, rng.standard_normal(x.shape).astype(x.dtype)) if with_dout else (x,)

        return inputs

    return (
        Case("standard normal inputs of shape (4, 5)", draw(lambda rng: rng.standard_normal((4, 5)))),
        Case("exact zeros among the inputs", draw(lambda rng: np.array([[-1.5, 0.0, 2.0], [0.0, -0.0, 0.5]]))),
        Case("a batch of one, shape (1, 6)", draw(lambda rng: rng.standard_normal((1, 6)))),
        Case("float32 inputs of shape (3, 4)", draw(lambda rng: rng.standard_normal((3, 4)).astype(np.float32))),
        Case("inputs of magnitude up to 1000, shape (2, 5)", draw(lambda rng: rng.uniform(-1000, 1000, (2, 5)))),
        Case("a 3-D input of shape (2, 2, 3), all negative in its first row",
             draw(lambda rng: rng.standard_normal((2, 2, 3)) - np.array([5.0, 0.0])[:, None, None])),
        Case("tiny inputs on both sides of the kink (1e-300 to 1e-6 in magnitude, and exact zeros), shape (3, 6)",
             draw(lambda rng: _tiny_around_kink(rng, (3, 6)))),
        Case("inputs of magnitude up to 1000, shape (6, 7)", draw(lambda rng: rng.uniform(-1000, 1000, (6, 7))), hidden=True),
        Case("tiny inputs on both sides of the kink, float32 (1e-40 to 1e-6 in magnitude), shape (4, 5)",
             draw(lambda rng: _tiny_around_kink(rng, (4, 5), np.float32)), hidden=True),
        Case("a 3-D input of shape (2, 3, 4)", draw(lambda rng: rng.standard_normal((2, 3, 4))), hidden=True),
        Case("all inputs negative, shape (3, 3)", draw(lambda rng: -rng.uniform(0.1, 2.0, (3, 3))), hidden=True),
    )


def _network(rng, n, d, h, k, scale=1.0):
    """Arrays (x, y, W1, b1, W2, b2) of a two-layer network with random weights."""
    x = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    weights = (
        scale * rng.standard_normal((d, h)) / np.sqrt(d),
        0.1 * rng.standard_normal(h),
        scale * rng.standard_normal((h, k)) / np.sqrt(h),
        0.1 * rng.standard_normal(k),
    )
    return (x, y, *weights)


def two_layer_cases():
    return (
        Case("a batch of 6, D = 3 features, H = 5 hidden units, K = 4 classes", lambda rng: _network(rng, 6, 3, 5, 4)),
        Case("a batch of one (N = 1, D = 2, H = 4, K = 3)", lambda rng: _network(rng, 1, 2, 4, 3)),
        Case("two classes, larger weights (N = 8, D = 2, H = 6, K = 2)", lambda rng: _network(rng, 8, 2, 6, 2, scale=3.0)),
        Case("small weights (initial loss near log K), N = 5, K = 3", lambda rng: _network(rng, 5, 3, 4, 3, scale=0.01)),
        Case("a batch of 20, D = 5, H = 10, K = 3", lambda rng: _network(rng, 20, 5, 10, 3), hidden=True),
        Case("small weights (initial loss near log K), N = 12, K = 5", lambda rng: _network(rng, 12, 4, 7, 5, scale=0.01), hidden=True),
        Case("wide hidden layer (N = 5, D = 2, H = 30, K = 3)", lambda rng: _network(rng, 5, 2, 30, 3), hidden=True),
    )


def sgd_cases():
    def draw(d, h, k, lr=None, dtype=np.float64):
        def inputs(rng):
            shapes = [(d, h), (h,), (h, k), (k,)]
            arrays = [rng.standard_normal(s).astype(dtype) for s in shapes + shapes]
            return (float(rng.uniform(0.01, 1.0)) if lr is None else lr, *arrays)

        return inputs

    return (
        Case("a 3-5-2 network, learning rate in [0.01, 1]", draw(3, 5, 2)),
        Case("a 2-8-3 network", draw(2, 8, 3)),
        Case("float32 parameters and gradients (2-4-3)", draw(2, 4, 3, dtype=np.float32)),
        Case("learning rate 0: nothing moves, and the result is still a new dict", draw(3, 2, 2, lr=0.0)),
        Case("a 6-10-4 network", draw(6, 10, 4), hidden=True),
        Case("learning rate 0 (a 2-3-2 network)", draw(2, 3, 2, lr=0.0), hidden=True),
        Case("float32, a 5-3-5 network", draw(5, 3, 5, dtype=np.float32), hidden=True),
    )


def gradient_descent_cases():
    def draw(n, d, h, k, steps, lr=None, loss_fn=GIVEN_LOSS_FN):
        def inputs(rng):
            x, y, *weights = _network(rng, n, d, h, k)
            return (loss_fn, x, y, float(rng.uniform(0.05, 0.5)) if lr is None else lr, steps, *weights)

        return inputs

    return (
        Case("5 steps on a batch of 10 (D = 2, H = 6, K = 3)", draw(10, 2, 6, 3, 5)),
        Case("loss_fn is not two_layer_loss: it adds an L2 penalty on W1 and W2 (4 steps, N = 6)",
             draw(6, 2, 5, 3, 4, loss_fn=GIVEN_L2_LOSS_FN)),
        Case("one step on an odd batch (N = 5, D = 3, H = 4, K = 2)", draw(5, 3, 4, 2, 1)),
        Case("20 steps, learning rate 1 (N = 8, D = 2, H = 5, K = 3)", draw(8, 2, 5, 3, 20, lr=1.0)),
        Case("zero steps: a new dict with the same arrays' values, and no losses", draw(5, 2, 3, 2, 0)),
        Case("12 steps on an odd batch of 31 (D = 4, H = 10, K = 4)", draw(31, 4, 10, 4, 12), hidden=True),
        Case("zero steps (N = 7, D = 3, H = 4, K = 3)", draw(7, 3, 4, 3, 0), hidden=True),
        Case("the L2-penalised loss_fn, 10 steps on a batch of 20 (D = 3, H = 8, K = 4)",
             draw(20, 3, 8, 4, 10, loss_fn=GIVEN_L2_LOSS_FN), hidden=True),
    )


def train_digits_cases():
    def draw(train, held_out):
        def inputs(rng):
            splits = digits_splits()
            return (*splits[train], *splits[held_out])

        return inputs

    return (
        Case("trained on the first 6000 training digits (seed 0), judged on the 2000 validation digits",
             draw("train", "validation")),
        Case("trained on the last 6000 training digits (seed 0), judged on the 2000 test digits",
             draw("train_hidden", "test"), hidden=True),
    )


# -- the catalogue --------------------------------------------------------------------------------


def _finite_differences(f, x, h, *, central=True, restore=True):
    """A student's loop over the elements of x, right or with one of two mistakes."""
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        f_plus = f(x)
        if central:
            x[i] = original - h
            f_minus = f(x)
            grad[i] = (f_plus - f_minus) / (2 * h)
        else:
            x[i] = original
            grad[i] = (f_plus - f(x)) / h
        if restore:
            x[i] = original
    return grad


def _flattened_differences(f, x, h=1e-5):
    """Central differences through ``x.reshape(-1)``: right on a contiguous x, zeros on a view."""
    flat = x.reshape(-1)  # a copy when x is not contiguous: perturbing it leaves x alone
    grad = np.zeros(flat.shape)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        f_plus = f(x)
        flat[i] = original - h
        f_minus = f(x)
        flat[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape)


def _digits_mistake(*, epochs=8, lr=0.5, zero_init=False, full_batch_steps=None):
    """A wrong train_digits, built like the reference with one choice changed."""

    def train(x, y, rng, on_epoch=None):
        hidden = 64
        params = {"W1": init.he_normal((x.shape[1], hidden), rng=rng), "b1": np.zeros(hidden),
                  "W2": 0.1 * init.he_normal((hidden, 10), rng=rng), "b2": np.zeros(10)}
        if zero_init:
            params = {k: np.zeros_like(v) for k, v in params.items()}
        if full_batch_steps is not None:
            return optim.gradient_descent(dense.two_layer_loss, params, x, y, lr, full_batch_steps)[0]
        return optim.minibatch_sgd(dense.two_layer_loss, params, x, y, lr=lr, batch_size=50, epochs=epochs, rng=rng)[0]

    return train


def _neuron_mistake(dj_dyhat, dyhat_dz, dz_dw):
    """A wrong chain rule for neuron_backward, from the reference cache ``(x, y, y_hat)``."""

    def backward(cache):
        x, y, y_hat = cache
        dz = dj_dyhat(y_hat, y) * dyhat_dz(y_hat, x)
        return dz * dz_dw(x, y_hat), dz

    return backward


def _affine_mistake(dx, dw, db):
    """A wrong affine_backward from nnlib's cache ``(x, w, b_dtype)``."""

    def backward(dout, cache):
        x, w, _ = cache
        return dx(dout, x, w), dw(dout, x, w), db(dout, x, w)

    return backward


def _relu_mistake(dx):
    """A wrong relu_backward from the reference's cache, the input ``x``."""
    return lambda dout, cache: dx(dout, cache)


def _two_layer_mistake(*, relu_mask=True, double_mean=False, no_mean=False, w2_from_preactivation=False, db_sum=True):
    """A wrong two_layer_loss, built like the reference with one step changed."""

    def loss_and_grads(params, x, y):
        z1 = x @ params["W1"] + params["b1"]
        h1 = np.maximum(z1, 0)
        scores = h1 @ params["W2"] + params["b2"]
        loss, dscores = softmax_cross_entropy(scores, y)
        if no_mean:
            dscores = dscores * len(x)
        if double_mean:
            dscores = dscores / len(x)
        dz1 = dscores @ params["W2"].T
        if relu_mask:
            dz1 = dz1 * (z1 > 0)
        total = (lambda g: g.sum(axis=0)) if db_sum else (lambda g: g)
        grads = {"W1": x.T @ dz1, "b1": total(dz1), "W2": (z1 if w2_from_preactivation else h1).T @ dscores, "b2": total(dscores)}
        return loss, grads

    return loss_and_grads


def _gradient_descent_mistake(*, record_after=False, from_start=False, sign=-1.0, extra_loss=False):
    """A wrong training loop, built like the reference with one step changed."""

    def loop(loss_fn, params, x, y, lr, num_steps):
        start, losses = params, []
        for _ in range(num_steps):
            loss, grads = loss_fn(start if from_start else params, x, y)
            base = start if from_start else params
            params = {k: base[k] + sign * lr * grads[k] for k in base}
            losses.append(loss_fn(params, x, y)[0] if record_after else loss)
        if extra_loss:
            losses.append(loss_fn(params, x, y)[0])
        return params, losses

    return loop


EXERCISES = (
    Exercise(
        "neuron_forward",
        neuron_forward_reference,
        neuron_cases(),
        outputs=("J",),
        run=_first("neuron_forward", "(J, cache)"),
        mistakes=(
            Mistake("the square is missing: J = (y_hat - y)**2", lambda w, b, x, y: (act.sigmoid(np.float64(w * x + b)) - y, None)),
            Mistake("the bias is missing: z = w * x + b", lambda w, b, x, y: ((act.sigmoid(np.float64(w * x)) - y) ** 2, None)),
            Mistake("the sigmoid is missing: y_hat = sigmoid(z), not z", lambda w, b, x, y: ((w * x + b - y) ** 2, None)),
        ),
    ),
    Exercise(
        "neuron_backward",
        lambda w, b, x, y: neuron_backward_reference(neuron_forward_reference(w, b, x, y)[1]),
        neuron_cases(),
        solution=neuron_backward_reference,
        outputs=("dJ/dw", "dJ/db"),
        run=run_neuron_backward,
        forward="neuron_forward",
        forward_reference=neuron_forward_reference,
        numerical=neuron_numerical,
        mistakes=(
            Mistake("the factor 2 of dJ/dy_hat = 2 (y_hat - y) is missing",
                    _neuron_mistake(lambda yh, y: yh - y, lambda yh, x: yh * (1 - yh), lambda x, yh: x)),
            Mistake("the sign is flipped: dJ/dy_hat = 2 (y_hat - y), not 2 (y - y_hat)",
                    _neuron_mistake(lambda yh, y: 2 * (y - yh), lambda yh, x: yh * (1 - yh), lambda x, yh: x)),
            Mistake("the sigmoid's derivative is missing: dy_hat/dz = y_hat (1 - y_hat)",
                    _neuron_mistake(lambda yh, y: 2 * (yh - y), lambda yh, x: 1.0, lambda x, yh: x)),
            Mistake("dz/dw = x (the input), not the weight or 1",
                    _neuron_mistake(lambda yh, y: 2 * (yh - y), lambda yh, x: yh * (1 - yh), lambda x, yh: 1.0)),
        ),
    ),
    Exercise(
        "numerical_gradient",
        numerical_gradient_expected,
        numerical_gradient_cases(),
        solution=gradcheck.numerical_gradient,
        outputs=("the gradient", "x after the call"),
        run=run_numerical_gradient,
        arg_names=("f", "x", "step", "the layout of x"),
        mistakes=(
            Mistake("this is a forward difference (f(x + h) - f(x)) / h, whose error is about h; "
                    "the central difference (f(x + h) - f(x - h)) / 2h is accurate to about h**2",
                    lambda f, x, h=1e-5: _finite_differences(f, x, h, central=False)),
            Mistake("x is not restored after each perturbation: put x[i] back to its original value",
                    lambda f, x, h=1e-5: _finite_differences(f, x, h, restore=False)),
            Mistake("the difference is divided by h: the two points x + h and x - h are 2h apart",
                    lambda f, x, h=1e-5: 2 * _finite_differences(f, x, h)),
            Mistake("every element is perturbed at once (f(x + h) - f(x - h)) / 2h: perturb one element at a time",
                    lambda f, x, h=1e-5: np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))),
            Mistake("x.reshape(-1) (or x.ravel(), x.flat[...] writes aside) is a copy when x is a transposed or sliced view, "
                    "so perturbing it leaves f(x) unchanged: index x itself, x[i] with i from np.ndindex(x.shape)",
                    _flattened_differences),
            Mistake("the step argument is ignored (the default 1e-5 is used whatever step is given)",
                    lambda f, x, h=1e-5: _finite_differences(f, x, 1e-5)),
        ),
    ),
    Exercise(
        "affine_forward",
        dense.affine_forward,
        affine_cases(with_dout=False),
        outputs=("out",),
        run=_first("affine_forward", "(out, cache)"),
        mistakes=(
            Mistake("the bias is missing: out = x @ w + b", lambda x, w, b: (x @ w, None)),
            Mistake("the bias is subtracted instead of added", lambda x, w, b: (x @ w - b, None)),
            Mistake("a ReLU is applied: the affine layer is x @ w + b alone, the activation is a layer of its own",
                    lambda x, w, b: (np.maximum(x @ w + b, 0), None)),
            Mistake("the inputs are converted to float64: keep the dtype of the inputs",
                    lambda x, w, b: (np.asarray(x, dtype=np.float64) @ w + b, None)),
        ),
    ),
    Exercise(
        "affine_backward",
        affine_backward_expected,
        affine_cases(with_dout=True),
        solution=dense.affine_backward,
        outputs=("dx", "dw", "db"),
        run=run_affine_backward,
        forward="affine_forward",
        forward_reference=dense.affine_forward,
        numerical=affine_numerical,
        mistakes=(
            Mistake("the weights gradient is transposed: dw = x.T @ dout, of shape (D, M) like w",
                    _affine_mistake(lambda d, x, w: d @ w.T, lambda d, x, w: d.T @ x, lambda d, x, w: d.sum(axis=0))),
            Mistake("the bias gradient is not summed over the batch: db = dout.sum(axis=0), of shape (M,) like b",
                    _affine_mistake(lambda d, x, w: d @ w.T, lambda d, x, w: x.T @ d, lambda d, x, w: d)),
            Mistake("dw and db are averaged over the batch: the 1/N of the loss is already inside dout, so sum",
                    _affine_mistake(lambda d, x, w: d @ w.T, lambda d, x, w: x.T @ d / len(x), lambda d, x, w: d.mean(axis=0))),
            Mistake("the bias gradient is summed over the wrong axis (axis=1): sum over the batch, axis 0",
                    _affine_mistake(lambda d, x, w: d @ w.T, lambda d, x, w: x.T @ d, lambda d, x, w: d.sum(axis=1))),
            Mistake("dx is missing the weights: dx = dout @ w.T",
                    _affine_mistake(lambda d, x, w: np.repeat(d.sum(axis=1, keepdims=True), x.shape[1], axis=1),
                                    lambda d, x, w: x.T @ d, lambda d, x, w: d.sum(axis=0))),
        ),
    ),
    Exercise(
        "relu_forward",
        relu_forward_reference,
        relu_cases(with_dout=False),
        outputs=("out",),
        run=_first("relu_forward", "(out, cache)"),
        mistakes=(
            Mistake("np.max(x, 0) is the largest value along axis 0; np.maximum(x, 0) compares elementwise", lambda x: (np.max(x, 0), None)),
            Mistake("the absolute value keeps negative inputs (with a flipped sign)", lambda x: (np.abs(x), None)),
            Mistake("the input is clipped to [0, 1]: ReLU has no upper limit", lambda x: (np.clip(x, 0, 1), None)),
        ),
    ),
    Exercise(
        "relu_backward",
        relu_backward_expected,
        relu_cases(with_dout=True),
        solution=relu_backward_reference,
        run=run_relu_backward,
        forward="relu_forward",
        forward_reference=relu_forward_reference,
        numerical=relu_numerical,
        mistakes=(
            Mistake("the gradient is passed where x < 0 too: ReLU blocks it there (dx = dout * (x > 0))", _relu_mistake(lambda d, x: d)),
            Mistake("dout is missing: dx = dout * (x > 0), not the mask alone", _relu_mistake(lambda d, x: (x > 0).astype(d.dtype))),
            Mistake("dout is multiplied by the output relu(x) instead of the mask (x > 0)", _relu_mistake(lambda d, x: d * np.maximum(x, 0))),
            Mistake("x >= 0 lets the gradient through at the kink x = 0; this course uses 0 there (x > 0)", _relu_mistake(lambda d, x: d * (x >= 0))),
        ),
    ),
    Exercise(
        "two_layer_loss",
        two_layer_loss_flat,
        two_layer_cases(),
        solution=dense.two_layer_loss,
        outputs=("loss",) + tuple(f"grads[{k!r}]" for k in KEYS),
        run=run_two_layer_loss,
        arg_names=("x", "y") + tuple(f"params[{k!r}]" for k in KEYS),
        forward="affine_forward",
        forward_reference=dense.affine_forward,
        numerical=two_layer_numerical,
        mistakes=(
            Mistake("the ReLU's backward is skipped: the gradient must be blocked where the hidden pre-activation is <= 0",
                    _two_layer_mistake(relu_mask=False)),
            Mistake("the gradient is divided by N again: softmax_cross_entropy's gradient already holds the 1/N",
                    _two_layer_mistake(double_mean=True)),
            Mistake("the 1/N is missing from the scores' gradient: the loss is a mean over the batch",
                    _two_layer_mistake(no_mean=True)),
            Mistake("dW2 uses the hidden pre-activation z1; it is h1.T @ dscores, with h1 = relu(z1) the input of the second layer",
                    _two_layer_mistake(w2_from_preactivation=True)),
            Mistake("the bias gradients are not summed over the batch: db = dout.sum(axis=0)",
                    _two_layer_mistake(db_sum=False)),
        ),
    ),
    Exercise(
        "sgd_update",
        sgd_update_flat,
        sgd_cases(),
        solution=sgd_update_reference,
        outputs=KEYS,
        run=run_sgd_update,
        arg_names=("lr",) + tuple(f"params[{k!r}]" for k in KEYS) + tuple(f"grads[{k!r}]" for k in KEYS),
        mistakes=(
            Mistake("the update goes uphill: w - lr * dw, not w + lr * dw",
                    lambda params, grads, lr: {k: params[k] + lr * grads[k] for k in params}),
            Mistake("the learning rate is missing: w - lr * dw",
                    lambda params, grads, lr: {k: params[k] - grads[k] for k in params}),
            Mistake("parameters and gradients are swapped: w - lr * dw, not dw - lr * w",
                    lambda params, grads, lr: {k: grads[k] - lr * params[k] for k in params}),
            Mistake("only the weights move: the biases are parameters too",
                    lambda params, grads, lr: {k: params[k] - lr * grads[k] if k.startswith("W") else params[k] for k in params}),
        ),
    ),
    Exercise(
        "gradient_descent",
        gradient_descent_flat,
        gradient_descent_cases(),
        solution=optim.gradient_descent,
        outputs=KEYS + ("losses",),
        run=run_gradient_descent,
        arg_names=("loss_fn", "x", "y", "lr", "num_steps") + tuple(f"params[{k!r}]" for k in KEYS),
        mistakes=(
            Mistake("each loss is recorded after the update: record loss_fn(params)'s loss before updating params",
                    _gradient_descent_mistake(record_after=True)),
            Mistake("every step starts again from the initial parameters: assign the new dict back to params",
                    _gradient_descent_mistake(from_start=True)),
            Mistake("the parameters move uphill: params - lr * grads", _gradient_descent_mistake(sign=+1.0)),
            Mistake("one loss too many: record one loss per step, before each update",
                    _gradient_descent_mistake(extra_loss=True)),
            Mistake("the loop calls two_layer_loss itself instead of the loss_fn it is given",
                    lambda loss_fn, params, x, y, lr, num_steps: _gradient_descent_mistake()(
                        _two_layer_mistake(), params, x, y, lr, num_steps)),
        ),
    ),
    Exercise(
        "train_digits",
        train_digits_expected,
        train_digits_cases(),
        solution=train_digits_reference,
        outputs=(f"the accuracy on held-out digits (at least {DIGITS_THRESHOLD:.0%} needed)",),
        run=run_train_digits,
        arg_names=("x", "y", "the held-out images", "the held-out labels"),
        mistakes=(
            Mistake("the parameters come back untrained", _digits_mistake(epochs=0)),
            Mistake("every weight starts at 0: each hidden unit's pre-activation is 0, where the ReLU passes no gradient, "
                    "so nothing but b2 ever moves; draw W1 at random (e.g. init.he_normal)", _digits_mistake(zero_init=True, epochs=1)),
            Mistake("20 full-batch steps are far too few: minibatches take hundreds of cheap steps in the same time",
                    _digits_mistake(full_batch_steps=20)),
            Mistake("the learning rate is far too small for this number of steps", _digits_mistake(lr=1e-3, epochs=2)),
        ),
    ),
)


#: The nnlib functions this chapter asks students to write themselves (chapter 1's activations and
#: chapter 2's losses stay free to use).
FORBIDDEN = (
    gradcheck.numerical_gradient,
    gradcheck.numerical_gradient_array,
    gradcheck.numerical_derivative,
    dense.affine_forward,
    dense.affine_backward,
    act.elementwise_forward,
    act.elementwise_backward,
    dense.two_layer_loss,
    optim.sgd_step,
    optim.gradient_descent,
    optim.minibatch_sgd,
)

CATALOGUE = Catalogue("03_backprop", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
