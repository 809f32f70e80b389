"""Chapter 2's exercises, loss functions: inputs to try, references, and known mistakes.

The notebook imports ``check`` and ``grade`` from here. Each ``Mistake`` is a wrong answer that
students really write; tests/test_exercises.py proves that every one is rejected.

Every loss returns ``(loss, gradient)``. Its exercise names itself as its own ``forward``: the
student passes the same function twice, ``check("mse", mse, mse)``, and the check differentiates
the student's own loss numerically, so a failure also says whether the student's gradient agrees
with the student's loss (then the loss itself is what to fix) or not (then the gradient is wrong).

Two exercises have no nnlib counterpart (``log_sum_exp``, ``one_hot``); their references are written
here, on top of nnlib's.

Every promise a statement makes has a case, and every family of hidden case has a visible one, so
``check`` never shows full marks where grading will not: float32 wherever the statement promises the
dtype of the input (then ``target`` shares it), exact probabilities of 0 and 1 in float32 too (where
``1 - 1e-12`` rounds to 1), a non-default ``eps`` in float64 and in float32 (powers of 2 there, so that
``1 - eps`` is exact in float32), probabilities inside the clipping margin but not exactly 0 or 1, soft
targets (the statements allow targets in [0, 1]), a transposed (Fortran-ordered) view of the logits, a
batch whose labels miss the last classes, an axis of length 1 before the last; a hidden case and its
visible twin have the same dtypes and numbers of dimensions. Inputs are always compared exactly before
and after the call by the check engine.
"""

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake
from nnlib import activations as act
from nnlib import losses as ref
from nnlib.gradcheck import numerical_gradient
from nnlib.tolerances import GRAD_STEP

#: Beyond this input magnitude the numerical gradient of a loss says nothing: a loss of size L has a
#: rounding error of about 1e-16 * L, which central differences divide by 2 * GRAD_STEP, so at
#: |input| ~ 1000 the error (1e-8 and more) swamps the 1e-7 agreement a correct gradient shows.
#: Those cases (the stability cases) are compared with the reference only.
NUMERICAL_MAX_INPUT = 50.0


# -- references without an nnlib counterpart ----------------------------------------------------


def log_sum_exp_reference(x):
    """``log(sum(exp(x)))`` over the last axis, shifted by the maximum: shape ``x.shape[:-1]``."""
    m = np.max(x, axis=-1)
    return m + np.log(np.sum(np.exp(x - m[..., None]), axis=-1))


def one_hot_reference(y, num_classes):
    """Row ``i`` is the float64 one-hot vector of ``y[i]``: shape ``(N, num_classes)``."""
    return np.eye(num_classes)[y]


# -- numerical gradients of the student's own loss -----------------------------------------------


class NothingToCompare(Exception):
    """Raised by a ``numerical`` function where central differences cannot judge the gradient.

    The check treats any exception there as "no numerical comparison" and then says nothing about
    the student's own loss; returning ``(None, None)`` instead would count as agreement.
    """


def gradient_of_own_loss(defined=None):
    """``numerical(forward, x, *rest) -> (None, dx)``: central differences of ``forward(x, *rest)[0]``.

    The loss itself has nothing numerical to compare with, hence ``None``. ``defined(x)`` is a mask
    of the elements where the derivative exists (clipping makes the loss flat at p = 0 and 1); the
    others are NaN, which the check skips. Inputs beyond NUMERICAL_MAX_INPUT raise NothingToCompare:
    central differences cannot resolve those to the gradient tolerance (the check engine itself skips
    float32 cases).
    """

    def numerical(forward, x, *rest):
        if np.max(np.abs(x)) > NUMERICAL_MAX_INPUT:
            raise NothingToCompare("large inputs")
        x = np.array(x, dtype=np.float64)
        mask = np.ones(x.shape, dtype=bool) if defined is None else defined(x)
        if not mask.any():
            raise NothingToCompare("no element where the loss is differentiable")
        grad = np.full(x.shape, np.nan)

        def loss_of(values):
            perturbed = x.copy()
            perturbed[mask] = values
            return forward(perturbed, *rest)[0]

        grad[mask] = numerical_gradient(loss_of, x[mask].copy())
        return None, grad

    return numerical


def inside_unit_interval(p):
    """Where ``p +- 2 * GRAD_STEP`` stays inside (0, 1), away from the clipping."""
    return (p > 2 * GRAD_STEP) & (p < 1 - 2 * GRAD_STEP)


# -- cases ---------------------------------------------------------------------------------------


def regression_pair(shape, scale=1.0):
    return lambda rng: (scale * rng.standard_normal(shape), scale * rng.standard_normal(shape))


def float32_grid_pair(shape):
    """float32 predictions and targets on a grid of 1/8 in [-4, 4].

    Squares and sums of such values are exact in float32, so the loss is the same whichever order a
    correct answer sums in (the check would allow float32 rounding; these inputs need none).
    """
    return lambda rng: tuple((rng.integers(-32, 33, shape) / 8).astype(np.float32) for _ in range(2))


def binary_targets(rng, shape):
    return rng.integers(0, 2, shape).astype(np.float64)


def probabilities(shape, low=0.02, high=0.98, dtype=np.float64):
    return lambda rng: tuple(a.astype(dtype) for a in (rng.uniform(low, high, shape), binary_targets(rng, shape)))


def probabilities_at_0_and_1(dtype=np.float64, eps=None, extra=8):
    """Every combination of p in {0, 1} and t in {0, 1}, among ``extra`` ordinary probabilities.

    In float32, ``1 - 1e-12`` rounds to 1: clipping with the float64 eps leaves p = 1 at 1. With
    ``eps`` given, it is passed as the third argument (the default is 1e-12).
    """

    def draw(rng):
        prob = np.concatenate([[0.0, 0.0, 1.0, 1.0], rng.uniform(0.02, 0.98, extra)]).astype(dtype)
        target = np.concatenate([[0.0, 1.0, 0.0, 1.0], binary_targets(rng, extra)]).astype(dtype)
        order = rng.permutation(len(prob))
        return (prob[order], target[order]) + (() if eps is None else (eps,))

    return draw


def probabilities_inside_the_margin(dtype=np.float64, eps=None):
    """Probabilities closer to 0 or 1 than the clipping margin, but not exactly 0 or 1, with both labels.

    The margin is ``max(eps, machine epsilon)``; these lie at a tenth and a hundredth of it from 0
    and from 1 (in float32, 1 - 2**-24, the float just below 1, is inside 1 - 2**-23). Clipping moves
    them to the margin; replacing only exact 0s and 1s leaves them where they are.
    """

    def draw(rng):
        e = max(1e-12 if eps is None else eps, float(np.finfo(dtype).eps))
        near = np.array([e / 10, e / 100, 1 - e / 10, 1 - e / 100], dtype=dtype)
        near[near == 1] = np.nextafter(dtype(1), dtype(0))  # in float32, 1 - e / 10 rounds to 1: 1 - 2**-24
        prob = np.concatenate([np.repeat(near, 2), rng.uniform(0.02, 0.98, 4).astype(dtype)])
        target = np.concatenate([np.tile([0.0, 1.0], 4), binary_targets(rng, 4)]).astype(dtype)
        order = rng.permutation(len(prob))
        return (prob[order], target[order]) + (() if eps is None else (eps,))

    return draw


def confident_probabilities(shape):
    """Probabilities within 1e-4 to 1e-3 of their label: right, and confident."""
    return lambda rng: (lambda t: (np.abs(t - rng.uniform(1e-4, 1e-3, t.shape)), t))(binary_targets(rng, shape))


def soft_targets(shape):
    return lambda rng: (rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape))


def logits_and_targets(shape, scale=1.0, dtype=np.float64):
    return lambda rng: tuple(a.astype(dtype) for a in (scale * rng.standard_normal(shape), binary_targets(rng, shape)))


def logits_and_soft_targets(shape, scale=1.0):
    return lambda rng: (scale * rng.standard_normal(shape), rng.uniform(0, 1, shape))


def float32_logits_of_every_magnitude(rng):
    """float32 logits from 0.1 to 1e4 in magnitude, both signs, with targets 0 and 1 (float32 too)."""
    z = np.concatenate([[1000.0, -1000.0, 1e4, -1e4], rng.uniform(-8, 8, 8)])
    t = np.concatenate([[0.0, 1.0, 1.0, 0.0], binary_targets(rng, 8)])
    order = rng.permutation(len(z))
    return z[order].astype(np.float32), t[order].astype(np.float32)


def large_logits_and_targets(sign=None):
    """Logits of magnitude 1000 and 1e4 (of one sign, or both), each with both targets."""

    def draw(rng):
        z = np.concatenate([[1000.0, 1000.0, 1e4, 1e4], rng.uniform(500, 2000, 4)])
        z = np.concatenate([z, -z]) if sign is None else sign * z
        return z, np.tile([0.0, 1.0], len(z) // 2)

    return draw


def confidently_wrong(rng):
    """Logits of magnitude 3 to 12 whose sign contradicts the target: the saturated side of the sigmoid."""
    t = binary_targets(rng, 12)
    z = rng.uniform(3, 12, 12) * np.where(t == 1, -1, 1)
    return z, t


def every_label(n, k):
    """Labels of shape (n,) with every class in [0, k) present (n >= k), shuffled."""

    def labels(rng):
        return rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, n - k)]))

    return labels


def classes(n, k, scale=1.0, shift=0.0, labels=None, dtype=np.float64, transposed=False):
    """Logits of shape (n, k) and labels; ``transposed``: the logits are a Fortran-ordered view
    (``(k, n)`` drawn, then ``.T``), as ``(w @ x.T).T`` gives them in a network."""
    labels = labels or every_label(n, k)

    def draw(rng):
        z = (shift + scale * rng.standard_normal((k, n) if transposed else (n, k))).astype(dtype)
        return (z.T if transposed else z), labels(rng)

    return draw


def square_batch_labels(rng):
    """Labels for 5 rows of 5 classes such that onehot(y).T != onehot(y).

    A square batch lets a one-hot built on the wrong axis run without a shape error; the two
    differ unless y[y[i]] == i for every i, which y[0] = 1, y[1] = 2 rules out.
    """
    y = rng.integers(0, 5, 5)
    y[:2] = 1, 2
    return y


def rows_far_apart(rng):
    """Two rows of logits, one near +1000 and one near -1000, so one global maximum does not do."""
    return (np.stack([1000 + rng.standard_normal(4), -1000 + rng.standard_normal(4)]),)


def magnitude_1000(shape):
    return lambda rng: (rng.uniform(-1000, 1000, shape),)


def logits(shape, scale=1.0, shift=0.0, dtype=np.float64):
    return lambda rng: ((shift + scale * rng.standard_normal(shape)).astype(dtype),)


# -- mistakes ------------------------------------------------------------------------------------


def rescaled(loss_function, loss_factor=None, grad_factor=None):
    """``loss_function`` with its loss and gradient multiplied by ``factor(*args)`` (a missing 1/N, a sign)."""

    def implementation(*args):
        loss, grad = loss_function(*args)
        return (loss * (loss_factor(*args) if loss_factor else 1), grad * (grad_factor(*args) if grad_factor else 1))

    return implementation


def batch_size(z, y):
    return len(y)


def minus_one(*args):
    return -1


def shifted_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_ce_from(p, y, n):
    """Loss and gradient of cross-entropy given probabilities ``p`` (which may be wrong)."""
    rows = np.arange(len(y))
    grad = p.copy()
    grad[rows, y] -= 1
    return -float(np.mean(np.log(p[rows, y]))), grad / n


def bce_unclipped(p, t):
    loss = -float(np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    return loss, (p - t) / (p * (1 - p)) / p.size


def bce_clipped(p, t, eps, grad_formula):
    q = np.clip(p, eps, 1 - eps)
    loss = -float(np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))
    return loss, grad_formula(q, t) / p.size


def bce_grad(q, t):
    return (q - t) / (q * (1 - q))


def dtype_margin(p, eps):
    """The statement's margin: eps, or the machine epsilon of p's dtype if that is larger."""
    return max(eps, float(np.finfo(p.dtype).eps))


def bce_in_dtype(p, t, eps, grad_formula=bce_grad):
    """The right clipping (the margin of ``dtype_margin``), with ``grad_formula`` for the gradient."""
    return bce_clipped(p, t, dtype_margin(p, eps), grad_formula)


def bce_float64_eps(p, t, eps=1e-12):
    """The clipping once taught: np.clip(p, eps, 1 - eps). In float32, 1 - 1e-12 is 1.0: p = 1 stays 1."""
    return bce_clipped(p, t, eps, bce_grad)


def bce_nextafter(p, t, eps=1e-12):
    """Lower bound eps as given, upper bound the float just below 1 in p's dtype (nnlib's former rule)."""
    high = np.nextafter(p.dtype.type(1), p.dtype.type(0)) if p.dtype.type(1 - eps) >= 1 else p.dtype.type(1 - eps)
    q = np.clip(p, p.dtype.type(eps), high)
    loss = -float(np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))
    return loss, bce_grad(q, t) / p.size


def bce_one_minus_clipped_apart(gradient_too):
    """p and 1 - p clipped each on its own: in float64, 1 - (1 - 1e-12) is not exactly 1e-12.

    ``gradient_too``: the gradient uses the separately clipped 1 - p as well; else it is right.
    """

    def mistake(p, t, eps=1e-12):
        e = dtype_margin(p, eps)
        q, r = np.clip(p, e, 1 - e), np.clip(1 - p, e, 1 - e)
        loss = -float(np.mean(t * np.log(q) + (1 - t) * np.log(r)))
        return loss, ((-t / q + (1 - t) / r) if gradient_too else bce_grad(q, t)) / p.size

    return mistake


def bce_selected_by_label(p, t, eps=1e-12):
    """-log p where the label is 1, -log(1 - p) elsewhere: right for labels 0 and 1, not for soft targets."""
    q = np.clip(p, dtype_margin(p, eps), 1 - dtype_margin(p, eps))
    loss = -float(np.mean(np.log(np.where(t == 1, q, 1 - q))))
    return loss, np.where(t == 1, -1 / q, 1 / (1 - q)) / p.size


def bce_logits_stable_loss(z, t):
    return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))


def bce_logits_with_gradient(gradient):
    """The right loss, and ``gradient(s, t) / N`` with ``s = sigmoid(z)`` as the gradient."""
    return lambda z, t: (bce_logits_stable_loss(z, t), gradient(act.sigmoid(z), t) / z.size)


def bce_logits_targets_as_float64(z, t):
    """Right values, but the targets converted to float64 first: float32 logits get a float64 gradient."""
    t = np.asarray(t, dtype=np.float64)
    return bce_logits_stable_loss(z, t), (act.sigmoid(z) - t) / z.size


def bce_logits_selected_by_label(z, t):
    """softplus(-z) where the label is 1, softplus(z) elsewhere: wrong for soft targets."""
    softplus = np.log1p(np.exp(-np.abs(z)))
    loss = float(np.mean(np.where(t == 1, np.maximum(-z, 0) + softplus, np.maximum(z, 0) + softplus)))
    return loss, (act.sigmoid(z) - (t == 1)) / z.size


def bce_logits_through_sigmoid(z, t):
    s = act.sigmoid(z)
    return -float(np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))), (s - t) / z.size


def mse_on_sigmoid_with_gradient(gradient):
    """The right loss, and ``gradient(s, t, z) / N`` with ``s = sigmoid(z)`` as the gradient."""

    def mistake(z, t):
        s = act.sigmoid(z)
        return float(np.mean((s - t) ** 2)), gradient(s, t, z) / z.size

    return mistake


def mse_on_sigmoid_targets_as_float64(z, t):
    """Right values, but the targets converted to float64 first: float32 logits get a float64 gradient."""
    t = np.asarray(t, dtype=np.float64)
    s = act.sigmoid(z)
    return float(np.mean((s - t) ** 2)), 2 * (s - t) * s * (1 - s) / z.size


def softmax_ce_with_float64_one_hot(z, y):
    """Right values, but ``softmax - one_hot(y)`` with a float64 one-hot: float32 logits give float64."""
    loss, grad = ref.softmax_cross_entropy(z, y)
    return loss, grad.astype(np.float64)


def wrong_axis_one_hot_gradient(z, y):
    return ref.softmax_cross_entropy(z, y)[0], (act.softmax(z) - np.eye(z.shape[1])[y].T) / len(y)


def sce_log_sum_exp_on_columns(z, y):
    """``logits - log_sum_exp(logits)`` without ``[:, None]``: (N, K) - (N,) lines the N values up with the
    columns. It runs only when N == K (the square batch), and is wrong there."""
    n = len(y)
    log_probs = z - log_sum_exp_reference(z)
    grad = np.exp(log_probs) - np.eye(z.shape[1], dtype=z.dtype)[y]
    return -float(np.mean(log_probs[np.arange(n), y])), grad / n


def sce_softmax_sums_on_columns(z, y):
    """The right loss; a softmax divided by its row sums without keepdims (runs when N == K, wrongly)."""
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return ref.softmax_cross_entropy(z, y)[0], (e / np.sum(e, axis=1) - np.eye(z.shape[1], dtype=z.dtype)[y]) / len(y)


def sce_rows_indexed_by_labels(z, y):
    """``dlogits[y] -= 1``: y indexes whole rows (one index array picks rows), not one element per row."""
    grad = act.softmax(z)
    grad[y] -= 1
    return ref.softmax_cross_entropy(z, y)[0], grad / len(y)


def sce_columns_indexed_by_labels(z, y):
    """``dlogits[:, y] -= 1``: every row loses 1 in every column some label names."""
    grad = act.softmax(z)
    grad[:, y] -= 1
    return ref.softmax_cross_entropy(z, y)[0], grad / len(y)


def sce_loss_of_rows_indexed_by_labels(z, y):
    """The right gradient; the loss ``-mean(log_probs[y])``: whole rows y, every class of them."""
    log_probs = z - log_sum_exp_reference(z)[:, None]
    return -float(np.mean(log_probs[y])), ref.softmax_cross_entropy(z, y)[1]


def unshifted_softmax(z):
    return np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)


#: How to pick each row's true class, for the mistakes that index with the labels alone.
ONE_PER_ROW = "pair the row indices with the labels, [np.arange(N), y], to reach one element per row"

EXERCISES = (
    Exercise(
        "mse",
        ref.mse,
        (
            Case("standard normal predictions and targets of shape (4, 5)", regression_pair((4, 5))),
            Case("a batch of one, shape (1, 3)", regression_pair((1, 3))),
            Case("1-D predictions of shape (8,)", regression_pair((8,))),
            Case("float32 3-D inputs of shape (3, 2, 4)", float32_grid_pair((3, 2, 4))),
            # (3, 4), not fewer elements: a gradient by central differences (no derivation) is off by 1e-6 here on
            # some elements, and with 6 the visible seed happened to find none
            Case("values of magnitude 1000, shape (4, 3)", regression_pair((4, 3), scale=1000.0)),
            Case("a perfect prediction (zero loss and gradient), shape (3, 2)",
                 lambda rng: (lambda x: (x, x.copy()))(rng.standard_normal((3, 2)))),
            Case("a column of 32 regression targets, shape (32, 1)", regression_pair((32, 1)), hidden=True),
            Case("values of magnitude 1000, shape (3, 4)", regression_pair((3, 4), scale=1000.0), hidden=True),
            Case("a perfect prediction (zero loss and gradient), shape (6, 2)",
                 lambda rng: (lambda x: (x, x.copy()))(rng.standard_normal((6, 2))), hidden=True),
            Case("float32 inputs of shape (2, 3, 4)", float32_grid_pair((2, 3, 4)), hidden=True),
        ),
        outputs=("loss", "dpred"),
        forward="mse",
        numerical=gradient_of_own_loss(),
        arg_names=("pred", "target"),
        mistakes=(
            Mistake("the squared errors are summed, not averaged: divide the loss and the gradient by pred.size",
                    lambda p, t: (float(np.sum((p - t) ** 2)), 2 * (p - t))),
            Mistake("the loss is divided by the number of rows only: average over all pred.size elements",
                    lambda p, t: (float(np.sum((p - t) ** 2) / len(p)), 2 * (p - t) / len(p))),
            Mistake("the gradient misses the 1/n of the mean",
                    lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (p - t))),
            Mistake("the factor 2 from differentiating the square is missing from the gradient",
                    lambda p, t: (float(np.mean((p - t) ** 2)), (p - t) / p.size)),
            Mistake("the gradient's sign is flipped: the loss grows when pred moves away from target",
                    lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (t - p) / p.size)),
            Mistake("n is a numpy integer (np.prod(pred.shape)), and a float32 array divided by a numpy int64 "
                    "becomes float64: divide by pred.size, a Python int, so that dpred keeps pred's dtype",
                    lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (p - t) / np.prod(p.shape))),
        ),
    ),
    Exercise(
        "binary_cross_entropy",
        ref.binary_cross_entropy,
        (
            Case("probabilities in (0, 1) of shape (4, 5), targets 0 and 1", probabilities((4, 5))),
            Case("soft targets in [0, 1], shape (3, 4)", soft_targets((3, 4))),
            Case("probabilities of exactly 0 and 1 (clipping)", probabilities_at_0_and_1()),
            Case("float32 probabilities of exactly 0 and 1 (1 - 1e-12 is 1.0 in float32)",
                 probabilities_at_0_and_1(np.float32)),
            Case("probabilities of exactly 0 and 1 with eps=1e-4", probabilities_at_0_and_1(eps=1e-4)),
            # float32 eps that are powers of 2: 1 - eps is then exact in float32, so an answer that clips in
            # Python floats (a loop) and one that clips the float32 array agree (with eps = 1e-4 they differ
            # by 2e-4 on the gradient at p = 1, beyond float32's tolerance, and neither is wrong).
            Case("float32 probabilities of exactly 0 and 1 with eps=2**-12 (2.4e-4, above float32's machine epsilon)",
                 probabilities_at_0_and_1(np.float32, eps=2.0**-12)),
            Case("float32 probabilities of exactly 0 and 1 with eps=1e-7 (below float32's machine epsilon, 1.2e-7)",
                 probabilities_at_0_and_1(np.float32, eps=1e-7)),
            Case("probabilities closer to 0 and 1 than the margin, not exactly 0 or 1",
                 probabilities_inside_the_margin()),
            Case("float32 probabilities closer to 0 and 1 than the margin (1 - 2**-24 among them)",
                 probabilities_inside_the_margin(np.float32)),
            Case("a batch of one, shape (1,)", probabilities((1,))),
            Case("confident probabilities within 1e-3 of 0 and 1, shape (2, 3)", confident_probabilities((2, 3))),
            Case("float32 probabilities in (0, 1) of shape (3, 3)", probabilities((3, 3), dtype=np.float32)),
            Case("probabilities of shape (30,)", probabilities((30,)), hidden=True),
            Case("confident probabilities within 1e-3 of 0 and 1, shape (6, 2)", confident_probabilities((6, 2)),
                 hidden=True),
            Case("soft targets in [0, 1], shape (5, 2)", soft_targets((5, 2)), hidden=True),
            Case("probabilities of exactly 0 and 1, again", probabilities_at_0_and_1(extra=12), hidden=True),
            Case("float32 probabilities of exactly 0 and 1, again", probabilities_at_0_and_1(np.float32, extra=4),
                 hidden=True),
            Case("probabilities of exactly 0 and 1 with eps=1e-6", probabilities_at_0_and_1(eps=1e-6), hidden=True),
            Case("float32 probabilities of exactly 0 and 1 with eps=2**-14",
                 probabilities_at_0_and_1(np.float32, eps=2.0**-14), hidden=True),
            Case("float32 probabilities closer to 0 and 1 than the margin, again", probabilities_inside_the_margin(np.float32),
                 hidden=True),
        ),
        outputs=("loss", "dprob"),
        forward="binary_cross_entropy",
        numerical=gradient_of_own_loss(defined=inside_unit_interval),
        arg_names=("prob", "target", "eps"),
        mistakes=(
            Mistake("p is clipped at 1e-7 instead of at eps (the argument, 1e-12 by default)",
                    lambda p, t, eps=1e-12: bce_in_dtype(p, t, 1e-7)),
            Mistake("p - t is the gradient with respect to the logit z; with respect to the probability p the "
                    "derivative of log p and log(1 - p) gives more",
                    lambda p, t, eps=1e-12: bce_in_dtype(p, t, eps, lambda q, t: q - t)),
            Mistake("the gradient's sign is flipped: raising p where t = 1 must lower the loss",
                    lambda p, t, eps=1e-12: bce_in_dtype(p, t, eps, lambda q, t: -bce_grad(q, t))),
            Mistake("the gradient misses the 1/n of the mean",
                    rescaled(lambda p, t, eps=1e-12: bce_in_dtype(p, t, eps), grad_factor=lambda p, *rest: p.size)),
            Mistake("the minus sign in front of the mean is missing: cross-entropy is positive",
                    rescaled(lambda p, t, eps=1e-12: bce_in_dtype(p, t, eps), minus_one, minus_one)),
            Mistake("p is not clipped (or only inside the logs): clip p first and use the clipped p in the loss and "
                    "in the gradient",
                    lambda p, t, eps=1e-12: bce_unclipped(p, t)),
            Mistake("p is clipped to [eps, 1 - eps] with eps as given, also in float32 where eps is below the "
                    "machine epsilon (1 - 1e-12 rounds to 1.0, so p = 1 stays 1 and log(1 - p) is log 0): the margin "
                    "is max(eps, np.finfo(prob.dtype).eps)",
                    bce_float64_eps),
            Mistake("the eps argument is ignored (1e-12 is written in the formula): clip with the eps passed in",
                    lambda p, t, eps=1e-12: bce_in_dtype(p, t, 1e-12)),
            Mistake("the upper bound was moved below 1 but the lower one was not: one margin, max(eps, machine "
                    "epsilon), on both sides",
                    bce_nextafter),
            Mistake("the loss takes -log p where the label is 1 and -log(1 - p) elsewhere: for a soft target "
                    "between 0 and 1 both terms count, weighted by t and 1 - t",
                    bce_selected_by_label),
            Mistake("1 - p is clipped on its own instead of being computed from the clipped p: in float64 "
                    "1 - (1 - 1e-12) is not exactly 1e-12 (1 - 1e-12 is rounded), so the two differ where p is 0 or "
                    "1; clip p once and use that p everywhere",
                    bce_one_minus_clipped_apart(gradient_too=True)),
            Mistake("the loss clips 1 - p on its own instead of computing it from the clipped p: in float64 "
                    "1 - (1 - 1e-12) is not exactly 1e-12, so the loss differs slightly where p is 0 or 1; "
                    "clip p once and use that p in the loss as in the gradient",
                    bce_one_minus_clipped_apart(gradient_too=False)),
        ),
    ),
    Exercise(
        "mse_on_sigmoid",
        ref.mse_on_sigmoid,
        (
            Case("standard normal logits of shape (4, 5), targets 0 and 1", logits_and_targets((4, 5))),
            Case("soft targets, shape (3, 4)", logits_and_soft_targets((3, 4))),
            Case("confidently wrong logits (|z| from 3 to 12, the wrong sign)", confidently_wrong),
            Case("logits of magnitude 1000 and 1e4", large_logits_and_targets()),
            Case("float32 3-D logits and targets of shape (2, 2, 3)",
                 logits_and_targets((2, 2, 3), scale=3.0, dtype=np.float32)),
            Case("a batch of one, shape (1,)", logits_and_targets((1,))),
            Case("logits spread over [-6, 6], shape (40,)", logits_and_targets((40,), scale=3.0), hidden=True),
            Case("logits of magnitude 1000 and 1e4, again", large_logits_and_targets(), hidden=True),
            Case("soft targets, shape (5, 2)", logits_and_soft_targets((5, 2)), hidden=True),
            Case("float32 logits and targets of shape (2, 3, 2)",
                 logits_and_targets((2, 3, 2), scale=3.0, dtype=np.float32), hidden=True),
        ),
        outputs=("loss", "dlogits"),
        forward="mse_on_sigmoid",
        numerical=gradient_of_own_loss(),
        arg_names=("logits", "target"),
        mistakes=(
            Mistake("the chain rule stops at the prediction: multiply by the sigmoid's derivative at z",
                    mse_on_sigmoid_with_gradient(lambda s, t, z: 2 * (s - t))),
            Mistake("the sigmoid's derivative is s (1 - s) with s = sigmoid(z), not z (1 - z)",
                    mse_on_sigmoid_with_gradient(lambda s, t, z: 2 * (s - t) * z * (1 - z))),
            Mistake("(s - t) / n is the gradient of cross-entropy, not of the squared error",
                    mse_on_sigmoid_with_gradient(lambda s, t, z: s - t)),
            Mistake("the gradient misses the 1/n of the mean",
                    mse_on_sigmoid_with_gradient(lambda s, t, z: 2 * (s - t) * s * (1 - s) * z.size)),
            Mistake("the factor 2 from differentiating the square is missing from the gradient",
                    mse_on_sigmoid_with_gradient(lambda s, t, z: (s - t) * s * (1 - s))),
            Mistake("the targets are converted to float64, which makes the gradient float64 for float32 logits: "
                    "dlogits keeps the dtype of logits",
                    mse_on_sigmoid_targets_as_float64),
        ),
    ),
    Exercise(
        "binary_cross_entropy_with_logits",
        ref.binary_cross_entropy_with_logits,
        (
            Case("standard normal logits of shape (4, 5), targets 0 and 1", logits_and_targets((4, 5))),
            Case("soft targets, shape (3, 4)", logits_and_soft_targets((3, 4), scale=3.0)),
            Case("positive logits of magnitude 1000 and 1e4", large_logits_and_targets(+1)),
            Case("negative logits of magnitude 1000 and 1e4", large_logits_and_targets(-1)),
            Case("float32 logits from 0.1 to 1e4 in magnitude, float32 targets", float32_logits_of_every_magnitude),
            Case("a batch of one, shape (1,)", logits_and_targets((1,))),
            Case("logits spread over [-30, 30], shape (20,)", logits_and_targets((20,), scale=10.0)),
            Case("logits spread over [-30, 30], shape (50,)", logits_and_targets((50,), scale=10.0), hidden=True),
            Case("logits of magnitude 1000 and 1e4, both signs", large_logits_and_targets(), hidden=True),
            Case("soft targets, shape (5, 2)", logits_and_soft_targets((5, 2), scale=3.0), hidden=True),
            Case("float32 logits from 0.1 to 1e4 in magnitude, again", float32_logits_of_every_magnitude, hidden=True),
        ),
        outputs=("loss", "dlogits"),
        forward="binary_cross_entropy_with_logits",
        numerical=gradient_of_own_loss(),
        arg_names=("logits", "target"),
        mistakes=(
            Mistake("the gradient's sign is flipped: raising z where t = 1 must lower the loss",
                    bce_logits_with_gradient(lambda s, t: t - s)),
            Mistake("this is the gradient with respect to the probability p = sigmoid(z); with respect to the logit z "
                    "the chain rule multiplies it by sigmoid'(z), and p (1 - p) cancels",
                    bce_logits_with_gradient(lambda s, t: (s - t) / (s * (1 - s)))),
            Mistake("the gradient misses the 1/n of the mean",
                    bce_logits_with_gradient(lambda s, t: (s - t) * s.size)),
            Mistake("the gradient is multiplied by sigmoid'(z) = s (1 - s) once more: (s - t) is already the "
                    "derivative with respect to z, the chain rule's s (1 - s) cancelled against the 1 / (p (1 - p)) "
                    "of the derivative with respect to p",
                    bce_logits_with_gradient(lambda s, t: (s - t) * s * (1 - s))),
            Mistake("log(sigmoid(z)) and log(1 - sigmoid(z)) reach log(0), and exp(-z) overflows, for large |z|: "
                    "rewrite the loss so that exp only ever sees -|z|",
                    bce_logits_through_sigmoid),
            Mistake("the targets are converted to float64, which makes the gradient float64 for float32 logits: "
                    "dlogits keeps the dtype of logits",
                    bce_logits_targets_as_float64),
            Mistake("the loss takes softplus(-z) where the label is 1 and softplus(z) elsewhere: for a soft target "
                    "between 0 and 1 both terms count, weighted by t and 1 - t",
                    bce_logits_selected_by_label),
        ),
    ),
    Exercise(
        "log_sum_exp",
        log_sum_exp_reference,
        (
            Case("standard normal logits of shape (4, 5)", logits((4, 5))),
            Case("logits of magnitude up to 1000, shape (3, 6)", magnitude_1000((3, 6))),
            Case("rows far apart: one row near +1000, one near -1000", rows_far_apart),
            Case("a batch of one, shape (1, 7)", logits((1, 7))),
            Case("float32 logits of shape (3, 4)", logits((3, 4), dtype=np.float32)),
            Case("a single class, shape (3, 1)", logits((3, 1))),
            Case("a 3-D array of shape (3, 2, 5) (the last axis holds the classes)", logits((3, 2, 5))),
            Case("logits shifted by 1e4, shape (2, 5)", logits((2, 5), shift=1e4)),
            Case("a 3-D array with a middle axis of length 1, shape (3, 1, 4)", logits((3, 1, 4))),
            Case("float32 logits of magnitude up to 1000, shape (3, 5)",
                 lambda rng: (rng.uniform(-1000, 1000, (3, 5)).astype(np.float32),)),
            Case("logits shifted by 1e4, shape (8, 10)", logits((8, 10), shift=1e4), hidden=True),
            Case("a single class, shape (5, 1)", logits((5, 1)), hidden=True),
            Case("a 3-D array of shape (2, 3, 4) (the last axis holds the classes)", logits((2, 3, 4)), hidden=True),
            Case("a 3-D array with a middle axis of length 1, shape (2, 1, 5)", logits((2, 1, 5)), hidden=True),
            Case("float32 logits of magnitude up to 1000, shape (4, 6)",
                 lambda rng: (rng.uniform(-1000, 1000, (4, 6)).astype(np.float32),), hidden=True),
        ),
        arg_names=("x",),
        mistakes=(
            Mistake("the maximum subtracted inside the exponential must be added back outside the log",
                    lambda x: np.log(np.sum(np.exp(x - x.max(axis=-1, keepdims=True)), axis=-1))),
            Mistake("the result keeps the reduced axis (keepdims=True): return shape x.shape[:-1], e.g. (N,)",
                    lambda x: log_sum_exp_reference(x)[..., None]),
            Mistake("the sum runs over the batch (axis 0) instead of each row's classes (the last axis)",
                    lambda x: (lambda m: m + np.log(np.sum(np.exp(x - m[None]), axis=0)))(x.max(axis=0))),
            Mistake("the sum runs over axis 1, which is the last axis only for 2-D input: use axis=-1",
                    lambda x: (lambda m: np.squeeze(m, 1) + np.log(np.sum(np.exp(x - m), axis=1)))(
                        x.max(axis=1, keepdims=True))),
            # Both overflow or underflow where they fail; the global maximum comes first, as its result
            # is right on the row that holds that maximum.
            Mistake("one maximum for the whole array: a row far below it underflows to log(0); subtract each row's own maximum",
                    lambda x: x.max() + np.log(np.sum(np.exp(x - x.max()), axis=-1))),
            Mistake("the logits are not shifted, so exp overflows",
                    lambda x: np.log(np.sum(np.exp(x), axis=-1))),
            Mistake("squeeze() removes every axis of length 1, not only the last one: drop the last axis alone "
                    "(np.squeeze(m, axis=-1), or m[..., 0])",
                    lambda x: (lambda m: m.squeeze() + np.log(np.sum(np.exp(x - m), axis=-1)))(
                        x.max(axis=-1, keepdims=True))),
        ),
    ),
    Exercise(
        "one_hot",
        one_hot_reference,
        (
            Case("6 labels of 4 classes, every class present", lambda rng: (every_label(6, 4)(rng), 4)),
            Case("a batch where the last class is absent: 5 labels in [0, 3) of 4 classes",
                 lambda rng: (every_label(5, 3)(rng), 4)),
            Case("a batch of one, 3 classes", lambda rng: (rng.integers(0, 3, 1), 3)),
            Case("two classes, 4 labels", lambda rng: (every_label(4, 2)(rng), 2)),
            Case("fewer labels than classes: 2 labels of 6 classes", lambda rng: (rng.permutation(5)[:2], 6)),
            Case("50 labels of 10 classes", lambda rng: (every_label(50, 10)(rng), 10), hidden=True),
            Case("two classes, 7 labels", lambda rng: (every_label(7, 2)(rng), 2), hidden=True),
            Case("fewer labels than classes: 3 labels of 8 classes", lambda rng: (rng.permutation(7)[:3], 8), hidden=True),
        ),
        arg_names=("y", "num_classes"),
        mistakes=(
            Mistake("one-hot on the wrong axis: row i must be the one-hot vector of y[i], shape (N, num_classes)",
                    lambda y, k: np.eye(k)[y].T),
            Mistake("(y[:, None] == np.arange(num_classes)) gives booleans: return float64 numbers",
                    lambda y, k: y[:, None] == np.arange(k)),
            Mistake("the number of classes is taken from the labels (y.max() + 1): a class absent from the batch still needs its column",
                    lambda y, k: np.eye(y.max() + 1)[y]),
        ),
    ),
    Exercise(
        "softmax_cross_entropy",
        ref.softmax_cross_entropy,
        (
            Case("a square batch: 5 rows of 5 classes", classes(5, 5, labels=square_batch_labels)),
            Case("logits of magnitude 1000, shape (6, 4)", classes(6, 4, scale=1000.0)),
            Case("a batch of one, 3 classes", classes(1, 3, labels=lambda rng: rng.integers(0, 3, 1))),
            Case("8 rows of 3 classes, labels of every class", classes(8, 3)),
            Case("two classes, 4 rows", classes(4, 2)),
            Case("logits shifted by 1e4, 4 rows of 3 classes", classes(4, 3, shift=1e4)),
            Case("float32 logits, 6 rows of 5 classes", classes(6, 5, scale=3.0, dtype=np.float32)),
            Case("logits as a transposed view (Fortran order), 7 rows of 4 classes", classes(7, 4, transposed=True)),
            Case("labels that never reach the last class: 6 rows of 4 classes, labels in [0, 3) (the number of "
                 "classes is the width of logits, not what the labels reach)",
                 classes(6, 4, labels=every_label(6, 3))),
            Case("16 rows of 10 classes", classes(16, 10), hidden=True),
            Case("logits shifted by 1e4, 6 rows of 4 classes", classes(6, 4, shift=1e4), hidden=True),
            Case("logits of magnitude 1e4, 4 rows of 4 classes", classes(4, 4, scale=1e4), hidden=True),
            Case("two classes, 7 rows", classes(7, 2), hidden=True),
            # No float32 case of large logits: a logit of 100 is known to 8e-6 in float32, so two right answers'
            # gradients near 0 differ by more than float32's tolerance (1 seed in 300 to 1 in 75, measured).
            Case("float32 logits, 5 rows of 3 classes", classes(5, 3, scale=3.0, dtype=np.float32), hidden=True),
            Case("logits as a transposed view (Fortran order), 9 rows of 6 classes", classes(9, 6, transposed=True),
                 hidden=True),
            Case("labels that never reach the last classes: 8 rows of 5 classes, labels in [0, 3)",
                 classes(8, 5, labels=every_label(8, 3)), hidden=True),
        ),
        outputs=("loss", "dlogits"),
        forward="softmax_cross_entropy",
        numerical=gradient_of_own_loss(),
        arg_names=("logits", "y"),
        mistakes=(
            Mistake("the loss is summed over the batch instead of averaged: divide the loss and the gradient by N",
                    rescaled(ref.softmax_cross_entropy, batch_size, batch_size)),
            Mistake("the mean runs over all N*K entries of onehot * log-probabilities: average over the N rows only",
                    rescaled(ref.softmax_cross_entropy, lambda z, y: 1 / z.shape[1], lambda z, y: 1 / z.shape[1])),
            Mistake("the gradient misses the 1/N of the mean",
                    rescaled(ref.softmax_cross_entropy, grad_factor=batch_size)),
            Mistake("the gradient's sign is flipped: raising the true class's logit must lower the loss",
                    rescaled(ref.softmax_cross_entropy, grad_factor=minus_one)),
            Mistake("one-hot on the wrong axis: row i of onehot must mark column y[i]",
                    wrong_axis_one_hot_gradient),
            Mistake("softmax is normalised over the batch (axis 0) instead of over each row's classes",
                    lambda z, y: softmax_ce_from(shifted_softmax(z, axis=0), y, len(y))),
            Mistake("one_hot returns float64, so the gradient of float32 logits comes back float64: "
                    "dlogits keeps the dtype of logits",
                    softmax_ce_with_float64_one_hot),
            Mistake("log_sum_exp(logits) has shape (N,): subtracted from logits of shape (N, K) it lines up with "
                    "the columns, not the rows (numpy only lets it run when N == K); give it its axis back: "
                    "log_sum_exp(logits)[:, None]",
                    sce_log_sum_exp_on_columns),
            Mistake("the softmax's row sums lost their axis (no keepdims=True): dividing by them divides column k "
                    "by the sum of row k (numpy only lets it run when N == K)",
                    sce_softmax_sums_on_columns),
            Mistake("dlogits[y] -= 1 subtracts 1 from whole rows: " + ONE_PER_ROW, sce_rows_indexed_by_labels),
            Mistake("dlogits[:, y] -= 1 subtracts 1 from whole columns: " + ONE_PER_ROW, sce_columns_indexed_by_labels),
            Mistake("the loss averages log_probs[y], whole rows of every class: " + ONE_PER_ROW,
                    sce_loss_of_rows_indexed_by_labels),
            # Last, log(softmax) first: the NaNs of the overflow would match its result (a right gradient).
            Mistake("log(softmax) takes log(0) where a probability underflows: "
                    "compute the log-probabilities with log_sum_exp instead",
                    lambda z, y: softmax_ce_from(shifted_softmax(z), y, len(y))),
            Mistake("the logits are not shifted by their maximum, so exp overflows",
                    lambda z, y: softmax_ce_from(unshifted_softmax(z), y, len(y))),
        ),
    ),
)

#: The functions that compute what this chapter asks students to write themselves. log_softmax is among
#: them: z - log_softmax(z) is log_sum_exp(z), the trick exercise 5 asks for; softplus too: softplus(z) - z t
#: is exercise 4's stable rewrite; and clip_epsilon, exercise 2's margin. sigmoid and softmax stay free.
#: This module's references and the helpers that compute a right answer are banned as well: the student
#: edition ships this module, so they are answers a student could import. Only those: the grader's sandbox
#: may stub what is forbidden, and the case draws and numerical gradients run there (a test proves that
#: none of them needs a banned function). nnlib's numerical_gradient is not banned (the sandbox's numerical
#: hints need it); a gradient by central differences fails the large-magnitude cases anyway.
ANSWERS_IN_THIS_MODULE = (log_sum_exp_reference, one_hot_reference, bce_clipped, bce_grad, dtype_margin, bce_in_dtype,
                          bce_logits_stable_loss, bce_logits_with_gradient, mse_on_sigmoid_with_gradient, shifted_softmax,
                          softmax_ce_from)
FORBIDDEN = (ref.mse, ref.binary_cross_entropy, ref.mse_on_sigmoid, ref.binary_cross_entropy_with_logits,
             ref.softmax_cross_entropy, ref.clip_epsilon, act.log_softmax, act.log_softmax_forward,
             act.softplus) + ANSWERS_IN_THIS_MODULE

CATALOGUE = Catalogue("02_losses", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
