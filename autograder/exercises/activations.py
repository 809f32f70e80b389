"""Chapter 1's exercises, activation functions: inputs to try, references, and known mistakes.

The notebook imports ``check`` and ``grade`` from here. Each ``Mistake`` is a wrong answer that
students really write; tests/test_exercises.py proves that every one is rejected.
"""

import contextlib
import functools
import warnings

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake
from nnlib import activations as ref
from nnlib.gradcheck import numerical_derivative, numerical_gradient_array
from nnlib.validation import as_float_array
from nnlib.tolerances import GRAD_STEP


def permuted(array, axes):
    """``array`` with its axes permuted: a view that is neither C- nor F-contiguous (the checks' copies keep that)."""
    return np.transpose(array, axes)


def tiny(rng, n=30):
    """Inputs of magnitude 1e-12 to 1e-3 (log-uniform), both signs: a threshold such as ``x > 1e-6``
    put where ``x > 0`` belongs is caught here, not only by the hidden cases."""
    return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-12, -3, n)


def elementwise_cases(parameter=None, large_parameter=None):
    """Inputs for an elementwise activation; ``parameter(rng)`` draws its extra arguments (slope, alpha).

    Every family of the hidden cases (3-D, near 0, float32 of large magnitude, a non-contiguous
    view) has a visible case too, so that the visible check cannot pass where grading fails.
    ``large_parameter(rng)``, if given, draws the parameter of one more visible and one more hidden
    case (leaky ReLU's slope above 1, where ``max(x, slope * x)`` is no longer leaky ReLU).
    """

    def with_parameter(draw, parameter=parameter):
        return lambda rng: (draw(rng),) + (parameter(rng) if parameter else ())

    extra = ()
    if large_parameter is not None:
        extra = (
            Case("a slope above 1 (from 1.5 to 3), standard normal inputs of shape (4, 5)",
                 with_parameter(lambda rng: rng.standard_normal((4, 5)), large_parameter)),
            Case("a slope above 1, inputs spread over [-40, 40], shape (3, 7)",
                 with_parameter(lambda rng: rng.uniform(-40, 40, (3, 7)), large_parameter), hidden=True),
        )

    return (
        Case("standard normal inputs of shape (4, 5)", with_parameter(lambda rng: rng.standard_normal((4, 5)))),
        Case(
            "inputs of magnitude 1000 and more, both signs",
            with_parameter(lambda rng: np.concatenate([[-1e4, -1000.0, 1000.0, 1e4], rng.uniform(-2000, 2000, 12)])),
        ),
        Case("exact zeros among the inputs", with_parameter(lambda rng: np.array([-1.5, 0.0, 2.0, 0.0, -0.0]))),
        Case("a batch of one, shape (1, 6)", with_parameter(lambda rng: rng.standard_normal((1, 6)))),
        Case("float32 inputs of shape (3, 4)", with_parameter(lambda rng: rng.standard_normal((3, 4)).astype(np.float32))),
        Case("float32 inputs of magnitude up to 200, shape (20,)",
             with_parameter(lambda rng: rng.uniform(-200, 200, 20).astype(np.float32))),
        Case("a 3-D array spread over [-40, 40], shape (2, 3, 4)", with_parameter(lambda rng: rng.uniform(-40, 40, (2, 3, 4)))),
        Case("a transposed view (column-major, not C-contiguous), shape (5, 3)",
             with_parameter(lambda rng: rng.standard_normal((3, 5)).T)),
        Case("tiny inputs of magnitude 1e-12 to 1e-3, both signs, shape (30,)", with_parameter(tiny)),
        Case("inputs spread over [-40, 40], shape (2, 3, 8)", with_parameter(lambda rng: rng.uniform(-40, 40, (2, 3, 8))), hidden=True),
        Case("small inputs near 0, shape (50,)", with_parameter(lambda rng: tiny(rng, 50)), hidden=True),
        Case("float32 inputs of magnitude up to 200", with_parameter(lambda rng: rng.uniform(-200, 200, 30).astype(np.float32)), hidden=True),
        Case("a transposed view, shape (7, 4)", with_parameter(lambda rng: 3 * rng.standard_normal((4, 7)).T), hidden=True),
    ) + extra


def derivative_of_own_forward(kinks=()):
    """``numerical(forward, x, *params)``: central differences of the student's forward, NaN at kinks."""

    def numerical(forward, x, *params):
        derivative = numerical_derivative(lambda v: forward(v, *params), x)
        for kink in kinks:
            derivative[np.abs(np.asarray(x, dtype=np.float64) - kink) < 2 * GRAD_STEP] = np.nan
        return derivative

    return numerical


def _student_namespace(function, name):
    """The global namespace in which the student's ``function`` looks up ``name``, or None.

    Looks through the wrappers a check may put around the function (``__wrapped__``, closures), and
    never returns the namespace of nnlib or of the autograder.
    """
    todo, seen = [function], set()
    while todo:
        f = todo.pop()
        if id(f) in seen or not callable(f):
            continue
        seen.add(id(f))
        namespace = getattr(f, "__globals__", None)
        if namespace is not None and name in namespace and not str(namespace.get("__name__", "")).startswith(("nnlib", "autograder")):
            return namespace
        for cell in getattr(f, "__closure__", None) or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        if getattr(f, "__wrapped__", None) is not None:
            todo.append(f.__wrapped__)
    return None


class _KeptErrstate(contextlib.ContextDecorator):
    """What ``np.errstate(...)`` is while the student's function runs: nothing, the check's own state stays."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@contextlib.contextmanager
def errstate_set_aside():
    """Sets ``np.errstate`` and ``np.seterr`` aside while the student's function runs.

    The statements promise no overflow, not only no warning: ``with np.errstate(all="ignore")``
    around ``1 / (1 + np.exp(-x))`` (or ``np.where(x > 0, x, alpha * np.expm1(x))``) gives the right
    numbers with an overflow hidden, and passed every check before. Here the overflow is reported.
    Only the names looked up at call time are set aside (``np.errstate`` used as a decorator, or
    imported by name, is bound before the check runs); numpy's own functions keep theirs.
    """
    originals = np.errstate, np.seterr
    np.errstate, np.seterr = _KeptErrstate, lambda *args, **kwargs: np.geterr()
    try:
        yield
    finally:
        np.errstate, np.seterr = originals


def run_as_written(function, forward, *args):
    """How a forward exercise is run: as written, with ``np.errstate`` set aside (see ``errstate_set_aside``)."""
    with errstate_set_aside():
        return function(*args)


def forward_by_name(forward_name):
    """How a derivative exercise is run: ``derivative(x, *params)`` with the name of its forward
    (``sigmoid`` for ``sigmoid_derivative``, which the statement asks to reuse) bound, for the call,
    to the forward the check passes.

    The check passes the student's forward (or a spy around it), and nnlib's when the student's is
    wrong: a derivative that calls its forward by name is then checked on nnlib's forward, and is
    never charged for its forward's fault. Where the name is not found, the derivative runs as it is.
    """

    def run(function, forward, *args):
        namespace = _student_namespace(function, forward_name) if forward is not None else None
        if namespace is None:
            return run_as_written(function, forward, *args)
        original = namespace[forward_name]
        namespace[forward_name] = _warnings_blamed_on(forward, forward_name)
        try:
            return run_as_written(function, forward, *args)
        finally:
            namespace[forward_name] = original

    return run


def _warnings_blamed_on(forward, forward_name):
    """``forward`` with the numerical warnings it raises recorded as its own fault, not the derivative's.

    The check's spy around the student's forward (``forward.faults``) records a forward that raises,
    changes its input or returns wrong numbers; a forward that overflows (``1 / (1 + np.exp(-x))``)
    returns the right numbers with a warning, which used to cost a right derivative its point. With
    the warning recorded as the forward's fault, the derivative is checked on nnlib's forward and the
    message names the forward. Without a spy (nnlib's forward), ``forward`` is returned as it is.
    """
    faults = getattr(forward, "faults", None)
    if not isinstance(faults, list):
        return forward

    @functools.wraps(forward)
    def watched(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = forward(*args, **kwargs)
        numerical = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        if numerical:
            faults.append(f'warned "{numerical[0]}" (a numerical warning in {forward_name} is {forward_name}\'s bug)')
        for w in caught:  # the others, as they were
            if not issubclass(w.category, RuntimeWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    return watched


def slope(rng):
    return (float(rng.uniform(0.01, 0.3)),)


def large_slope(rng):
    return (float(rng.uniform(1.5, 3.0)),)


def alpha(rng):
    return (float(rng.uniform(0.5, 2.0)),)


# -- the forwards, in pure numpy: nnlib's code, which the grader's sandbox stubs ------------------------
#
# A derivative's check needs its forward inside the sandbox, where nnlib's answers are stubbed: to tell
# whether the student's forward is wrong (the spy compares it with the forward exercise's reference) and
# to run the derivative on a right forward when it is. With nnlib's functions as the references, both
# failed there: a right sigmoid_derivative reusing a wrong or overflowing sigmoid scored 0 in grading
# while the local check said it passed. These copies are not stubbed, and are banned like nnlib's.


def sigmoid_reference(x):
    """nnlib's ``sigmoid``."""
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh_reference(x):
    """nnlib's ``tanh``."""
    return np.tanh(as_float_array(x, "x"))


def relu_reference(x):
    """nnlib's ``relu``."""
    return np.maximum(as_float_array(x, "x"), 0)


def leaky_relu_reference(x, slope=0.01):
    """nnlib's ``leaky_relu``."""
    x = as_float_array(x, "x")
    return np.where(x > 0, x, slope * x).astype(x.dtype, copy=False)


def elu_reference(x, alpha=1.0):
    """nnlib's ``elu``."""
    x = as_float_array(x, "x")
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def sigmoid_derivative_reference(x):
    """nnlib's ``sigmoid_derivative``."""
    s = sigmoid_reference(x)
    return s * (1 - s)


def tanh_derivative_reference(x):
    """nnlib's ``tanh_derivative``."""
    t = tanh_reference(x)
    return 1 - t * t


def relu_derivative_reference(x):
    """nnlib's ``relu_derivative``."""
    x = as_float_array(x, "x")
    return (x > 0).astype(x.dtype)


def leaky_relu_derivative_reference(x, slope=0.01):
    """nnlib's ``leaky_relu_derivative``."""
    x = as_float_array(x, "x")
    return np.where(x > 0, 1, slope).astype(x.dtype)


def elu_derivative_reference(x, alpha=1.0):
    """nnlib's ``elu_derivative``."""
    x = as_float_array(x, "x")
    return np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)


#: Each copy with the nnlib function it copies (tests/test_activations_chapter.py proves them equal). The
#: derivatives are copied too, so that the visible ``check`` cells run in the grader's sandbox as well
#: (with nnlib's references they printed a RuntimeError traceback into every student's feedback).
FORWARD_COPIES = {sigmoid_reference: ref.sigmoid, tanh_reference: ref.tanh, relu_reference: ref.relu,
                  leaky_relu_reference: ref.leaky_relu, elu_reference: ref.elu}
NNLIB_COPIES = {**FORWARD_COPIES, sigmoid_derivative_reference: ref.sigmoid_derivative,
                tanh_derivative_reference: ref.tanh_derivative, relu_derivative_reference: ref.relu_derivative,
                leaky_relu_derivative_reference: ref.leaky_relu_derivative, elu_derivative_reference: ref.elu_derivative}


def naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax_backward_cases():
    """``(dout, s, x)``: the student's ``softmax_backward(dout, s)`` gets ``dout`` and ``s = softmax(x)``
    (nnlib's, so that a wrong softmax never costs the backward its points); the logits ``x`` let the
    check differentiate the student's own softmax and build nnlib's cache."""

    def draw(shape, scale=1.0, dtype=np.float64, dout_dtype=None, axes=None):
        def inputs(rng):
            x = scale * rng.standard_normal(shape)
            dout = rng.standard_normal(shape)
            if axes is not None:  # the same values, stored with permuted axes
                x, dout = permuted(x, axes), permuted(dout, axes)
            x = x.astype(dtype, copy=False)
            return dout.astype(dout_dtype or dtype, copy=False), ref.softmax(x), x

        return inputs

    return (
        Case("a batch of 4 rows of 5 classes", draw((4, 5))),
        Case("a batch of one, 3 classes", draw((1, 3))),
        Case("peaked probabilities (logits scaled by 10)", draw((6, 4), scale=10.0)),
        Case("a batch of sequences, shape (2, 3, 4): the classes are the last axis", draw((2, 3, 4))),
        Case("float32 dout and s, shape (3, 4)", draw((3, 4), dtype=np.float32)),
        Case("float32 s with a float64 dout (as from a float64 loss), shape (3, 4)",
             draw((3, 4), dtype=np.float32, dout_dtype=np.float64)),
        Case("dout and s stored with permuted axes (not contiguous), shape (2, 3, 4)", draw((3, 2, 4), axes=(1, 0, 2))),
        Case("a batch of 16 rows of 10 classes", draw((16, 10)), hidden=True),
        Case("two classes", draw((8, 2)), hidden=True),
        Case("a batch of sequences, shape (3, 2, 6)", draw((3, 2, 6)), hidden=True),
        Case("float32 s with a float64 dout, shape (5, 6)", draw((5, 6), dtype=np.float32, dout_dtype=np.float64), hidden=True),
        Case("permuted axes, shape (2, 4, 3)", draw((4, 2, 3), axes=(1, 0, 2)), hidden=True),
    )


def _softmax_vjp(dout, s):
    """nnlib's ``softmax_backward`` on the cache ``(s, -1)``, in pure numpy (nnlib's is stubbed in the sandbox)."""
    dout = as_float_array(dout, "dout")
    dx = s * (dout - np.sum(dout * s, axis=-1, keepdims=True))
    return dx.astype(s.dtype, copy=False)


def softmax_backward_reference(dout, s, x):
    """nnlib's layer pair: ``softmax_backward(dout, cache)`` with the cache of ``softmax_forward(x)``."""
    return _softmax_vjp(dout, ref.softmax(x))


def softmax_backward_solution(dout, s):
    """nnlib's answer in the student's signature (the VJP on the probabilities ``s`` themselves)."""
    return _softmax_vjp(dout, s)


def run_softmax_backward(backward, forward, dout, s, x):
    """The student's ``softmax_backward(dout, s)``; the logits ``x`` are only the check's."""
    return backward(dout, s)


def softmax_backward_numerical(forward, dout, s, x):
    """``dx`` by central differences of the student's own softmax at the logits ``x``."""
    return numerical_gradient_array(forward, x, dout)


def softmax_cases():
    return (
        Case("standard normal logits of shape (4, 5)", lambda rng: (rng.standard_normal((4, 5)),)),
        Case("logits of magnitude up to 1000", lambda rng: (rng.uniform(-1000, 1000, (3, 6)),)),
        Case("rows far apart: one row near +1000, one near -1000", lambda rng: (np.stack([1000 + rng.standard_normal(4), -1000 + rng.standard_normal(4)]),)),
        Case("a row of equal logits", lambda rng: (np.full((1, 5), 3.0),)),
        Case("a batch of one, shape (1, 7)", lambda rng: (rng.standard_normal((1, 7)),)),
        Case("float32 logits of shape (3, 4)", lambda rng: (rng.standard_normal((3, 4)).astype(np.float32),)),
        Case("logits of shape (2, 3, 5), rows offset by up to 1000: softmax runs over the last axis",
             lambda rng: (rng.standard_normal((2, 3, 5)) + rng.uniform(-1000, 1000, (2, 3, 1)),)),
        Case("a single class, shape (3, 1): every probability is 1", lambda rng: (rng.standard_normal((3, 1)),)),
        Case("logits stored with permuted axes (not contiguous), shape (2, 3, 4), rows offset by up to 1000",
             lambda rng: (permuted(rng.standard_normal((3, 2, 4)) + rng.uniform(-1000, 1000, (3, 2, 1)), (1, 0, 2)),)),
        Case("a single class, shape (5, 1)", lambda rng: (rng.standard_normal((5, 1)),), hidden=True),
        Case("logits shifted by 1e4, shape (8, 10)", lambda rng: (1e4 + rng.standard_normal((8, 10)),), hidden=True),
        Case("a batch of sequences of shape (3, 2, 4), rows offset by -1000, 0 and +1000",
             lambda rng: (rng.standard_normal((3, 2, 4)) + np.array([-1000.0, 0.0, 1000.0])[:, None, None],), hidden=True),
        Case("logits stored with permuted axes, shape (3, 2, 5), rows offset by up to 1000",
             lambda rng: (permuted(rng.standard_normal((2, 3, 5)) + rng.uniform(-1000, 1000, (2, 3, 1)), (1, 0, 2)),), hidden=True),
    )


def softmax_zeros_loop(dout, s):
    """A row loop that fills ``np.zeros(shape)``: float64 whatever the inputs."""
    dx = np.zeros(s.shape)
    rows, d = s.reshape(-1, s.shape[-1]), dout.reshape(-1, s.shape[-1])
    flat = dx.reshape(-1, s.shape[-1])
    for i in range(len(rows)):
        flat[i] = rows[i] * (d[i] - d[i] @ rows[i])
    return dx


EXERCISES = (
    Exercise(
        "sigmoid",
        sigmoid_reference,
        elementwise_cases(),
        run=run_as_written,
        mistakes=(
            Mistake("x is clipped to [-500, 500], which keeps exp(-x) finite in float64 only: float32 overflows above "
                    "exp(88); compute both branches from exp(-|x|), which is at most 1 in any dtype",
                    lambda x: naive_sigmoid(np.clip(x, -500, 500))),
            Mistake("1 / (1 + exp(-x)) overflows in exp(-x) for x = -1000 (and np.where evaluates both of its branches, so hiding it in "
                    "one branch does not help): compute both branches from exp(-|x|)", naive_sigmoid),
            Mistake("the sign of the exponent is flipped: sigmoid is 1 / (1 + exp(-x))", lambda x: 1 / (1 + np.exp(x))),
            Mistake("0.5 * (1 + tanh(x)) needs tanh(x / 2)", lambda x: 0.5 * (1 + np.tanh(x))),
            Mistake("the result is clipped to avoid overflow, which changes it far from 0", lambda x: naive_sigmoid(np.clip(x, -10, 10))),
        ),
    ),
    Exercise(
        "sigmoid_derivative",
        sigmoid_derivative_reference,
        elementwise_cases(),
        forward="sigmoid",
        run=forward_by_name("sigmoid"),
        numerical=derivative_of_own_forward(),
        mistakes=(
            Mistake("the derivative is written as sigmoid(x) * (1 - x): it is sigmoid(x) * (1 - sigmoid(x))", lambda x: ref.sigmoid(x) * (1 - x)),
            Mistake("x * (1 - x) is the derivative in terms of the output s, not the input x", lambda x: x * (1 - x)),
            Mistake("sigmoid(x) * (1 + sigmoid(x)): the sign inside is a minus", lambda x: ref.sigmoid(x) * (1 + ref.sigmoid(x))),
        ),
    ),
    Exercise(
        "tanh",
        tanh_reference,
        elementwise_cases(),
        # the statement asks for tanh from the student's own sigmoid: checked like a derivative on its
        # forward, so that a right identity on a wrong or overflowing sigmoid is not charged for sigmoid's fault
        forward="sigmoid",
        run=forward_by_name("sigmoid"),
        mistakes=(
            Mistake("2 * sigmoid(x) - 1 is tanh(x / 2): use 2 * sigmoid(2 * x) - 1", lambda x: 2 * ref.sigmoid(x) - 1),
            Mistake("(exp(x) - exp(-x)) / (exp(x) + exp(-x)) overflows for large |x|", lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))),
            Mistake("this is the sigmoid, not tanh", lambda x: ref.sigmoid(x)),
        ),
    ),
    Exercise(
        "tanh_derivative",
        tanh_derivative_reference,
        elementwise_cases(),
        forward="tanh",
        run=forward_by_name("tanh"),
        numerical=derivative_of_own_forward(),
        mistakes=(
            Mistake("1 - x**2 is the derivative in terms of the output t = tanh(x), not the input x", lambda x: 1 - x**2),
            Mistake("the square is missing: 1 - tanh(x)**2", lambda x: 1 - ref.tanh(x)),
            Mistake("(1 - tanh(x))**2 squares the difference instead of tanh(x)", lambda x: (1 - ref.tanh(x)) ** 2),
        ),
    ),
    Exercise(
        "relu",
        relu_reference,
        elementwise_cases(),
        run=run_as_written,
        mistakes=(
            Mistake("np.max(x, 0) is the largest value along axis 0; np.maximum(x, 0) compares elementwise", lambda x: np.max(x, 0)),
            Mistake("the absolute value keeps negative inputs (with a flipped sign)", lambda x: np.abs(x)),
            Mistake("the input is clipped to [0, 1]: ReLU has no upper limit", lambda x: np.clip(x, 0, 1)),
        ),
    ),
    Exercise(
        "relu_derivative",
        relu_derivative_reference,
        elementwise_cases(),
        forward="relu",
        run=forward_by_name("relu"),
        numerical=derivative_of_own_forward(kinks=(0.0,)),
        mistakes=(
            Mistake("the gradient is passed where x < 0 too: it is 0 there", lambda x: np.ones_like(x)),
            Mistake("x >= 0 gives 1 at the kink x = 0; this course uses 0 there (x > 0)", lambda x: (x >= 0).astype(x.dtype)),
            Mistake("np.where(x > 0, x, 0) is ReLU itself, not its derivative", lambda x: np.where(x > 0, x, 0)),
            Mistake("np.where(x > 0, 1.0, 0.0) returns float64 whatever the input: add .astype(x.dtype) to keep float32",
                    lambda x: np.where(x > 0, 1.0, 0.0)),
        ),
    ),
    Exercise(
        "leaky_relu",
        leaky_relu_reference,
        elementwise_cases(parameter=slope, large_parameter=large_slope),
        run=run_as_written,
        mistakes=(
            Mistake("max(x, slope * x) is leaky ReLU only for a slope of at most 1: above 1 it picks slope * x for x > 0; "
                    "follow the definition, which chooses by the sign of x", lambda x, a: np.maximum(x, a * x)),
            Mistake("the slope is applied to the positive side: x > 0 passes unchanged, x <= 0 is multiplied by slope", lambda x, a: np.where(x > 0, a * x, x)),
            Mistake("negative inputs become the constant slope instead of slope * x", lambda x, a: np.where(x > 0, x, a)),
            Mistake("negative inputs are set to 0: that is plain ReLU", lambda x, a: np.maximum(x, 0)),
        ),
    ),
    Exercise(
        "leaky_relu_derivative",
        leaky_relu_derivative_reference,
        elementwise_cases(parameter=slope, large_parameter=large_slope),
        forward="leaky_relu",
        run=forward_by_name("leaky_relu"),
        numerical=derivative_of_own_forward(kinks=(0.0,)),
        mistakes=(
            Mistake("the derivative is 0 for x <= 0: for leaky ReLU it is the slope", lambda x, a: (x > 0).astype(x.dtype)),
            Mistake("the two sides are swapped: 1 for x > 0, slope otherwise", lambda x, a: np.where(x > 0, a, 1.0).astype(x.dtype)),
            Mistake("slope * x is the function, not its derivative, for x <= 0", lambda x, a: np.where(x > 0, 1.0, a * x).astype(x.dtype)),
            Mistake("np.where(x > 0, 1.0, slope) returns float64 whatever the input: add .astype(x.dtype) to keep float32",
                    lambda x, a: np.where(x > 0, 1.0, a)),
            Mistake("x >= 0 gives 1 at the kink x = 0; this course uses the slope there (x > 0)",
                    lambda x, a: np.where(x >= 0, 1.0, a).astype(x.dtype)),
            Mistake("max(1 or 0, slope) is the derivative only for a slope of at most 1: choose by the sign of x, not by "
                    "the larger value", lambda x, a: np.maximum((x > 0).astype(x.dtype), a).astype(x.dtype)),
        ),
    ),
    Exercise(
        "elu",
        elu_reference,
        elementwise_cases(parameter=alpha),
        run=run_as_written,
        mistakes=(
            Mistake("alpha multiplies the whole of exp(x) - 1, not only exp(x)", lambda x, a: np.where(x > 0, x, a * np.exp(np.minimum(x, 0)) - 1)),
            Mistake("alpha is ignored", lambda x, a: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
            Mistake("np.where evaluates both branches: exp(x) overflows for large positive x unless it sees min(x, 0)", lambda x, a: np.where(x > 0, x, a * (np.exp(x) - 1))),
        ),
    ),
    Exercise(
        "elu_derivative",
        elu_derivative_reference,
        elementwise_cases(parameter=alpha),
        forward="elu",
        run=forward_by_name("elu"),
        numerical=derivative_of_own_forward(kinks=(0.0,)),
        mistakes=(
            Mistake("np.where evaluates both branches: alpha * exp(x) overflows for large positive x unless exp sees min(x, 0)",
                    lambda x, a: np.where(x > 0, 1.0, a * np.exp(x)).astype(x.dtype)),
            Mistake("alpha is ignored: for x <= 0 the derivative is alpha * exp(x)", lambda x, a: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))).astype(x.dtype)),
            Mistake("alpha * (exp(x) - 1) is ELU itself, not its derivative", lambda x, a: np.where(x > 0, 1.0, a * np.expm1(np.minimum(x, 0))).astype(x.dtype)),
            Mistake("the derivative for x > 0 is 1, not x", lambda x, a: np.where(x > 0, x, a * np.exp(np.minimum(x, 0))).astype(x.dtype)),
        ),
    ),
    Exercise(
        "softmax",
        ref.softmax,
        softmax_cases(),
        run=run_as_written,
        mistakes=(
            Mistake("the logits are shifted by the maximum of the whole array: shift each row by its own maximum "
                    "(x.max(axis=-1, keepdims=True)), or a row far below the others becomes 0 / 0",
                    lambda x: np.exp(x - x.max()) / np.sum(np.exp(x - x.max()), axis=-1, keepdims=True)),
            Mistake("the logits are not shifted by their maximum, so exp overflows", lambda x: np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)),
            Mistake("the sum runs over the wrong axis (the batch, axis 0): each row, not each column, must sum to 1",
                    lambda x: np.exp(x - x.max(axis=0)) / np.sum(np.exp(x - x.max(axis=0)), axis=0, keepdims=True)),
            Mistake("the sum runs over the whole array instead of each row", lambda x: np.exp(x - x.max()) / np.sum(np.exp(x - x.max()))),
            Mistake("the exponentials are not normalised", lambda x: np.exp(x - x.max(axis=-1, keepdims=True))),
            Mistake("axis=1 is the last axis only for 2-D arrays: softmax runs over the classes, axis=-1",
                    lambda x: np.exp(x - x.max(axis=1, keepdims=True)) / np.sum(np.exp(x - x.max(axis=1, keepdims=True)), axis=1, keepdims=True)),
        ),
    ),
    Exercise(
        "softmax_backward",
        softmax_backward_reference,
        softmax_backward_cases(),
        forward="softmax",
        run=run_softmax_backward,
        solution=softmax_backward_solution,
        arg_names=("dout", "s", "x"),
        numerical=softmax_backward_numerical,
        mistakes=(
            Mistake("dout is float64 and s float32, so numpy computes in float64: return dx in the dtype of s "
                    "(the forward's dtype), e.g. with .astype(s.dtype)",
                    lambda dout, s: s * (dout - np.sum(dout * s, axis=-1, keepdims=True))),
            Mistake("np.zeros(shape) is float64 whatever the inputs: create dx in the dtype of s (np.zeros_like(s)), "
                    "or compute it without a loop", softmax_zeros_loop),
            Mistake("only the diagonal of the Jacobian is used (s * dout): every output depends on every input",
                    lambda dout, s: (s * dout).astype(s.dtype)),
            Mistake("s * (1 - s) * dout treats softmax as an elementwise sigmoid: the off-diagonal terms -s_i s_j are missing",
                    lambda dout, s: (s * (1 - s) * dout).astype(s.dtype)),
            Mistake("the sum of dout * s runs over the wrong axis (the batch, axis 0)",
                    lambda dout, s: (s * (dout - np.sum(dout * s, axis=0, keepdims=True))).astype(s.dtype)),
            Mistake("dout - s * sum(dout) is the backward pass of log-softmax",
                    lambda dout, s: (dout - s * np.sum(dout, axis=-1, keepdims=True)).astype(s.dtype)),
            Mistake("axis=1 is the last axis only for 2-D arrays: sum dout * s over the classes, axis=-1",
                    lambda dout, s: (s * (dout - np.sum(dout * s, axis=1, keepdims=True))).astype(s.dtype)),
        ),
    ),
)

#: Every public function of nnlib.activations: the chapter's answers, and what would give them away
#: (``np.exp(ref.log_softmax(x))`` is softmax, ``ref.elementwise_forward(x, "relu")[0]`` is relu);
#: and this module's copies of the forwards, answers a student could import too.
FORBIDDEN = tuple(
    f for name, f in sorted(vars(ref).items())
    if callable(f) and getattr(f, "__module__", None) == ref.__name__ and not name.startswith("_")
) + tuple(NNLIB_COPIES) + (_softmax_vjp, softmax_backward_reference, softmax_backward_solution)

CATALOGUE = Catalogue("01_activations", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
