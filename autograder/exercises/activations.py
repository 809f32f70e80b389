"""Chapter 1's exercises, activation functions: inputs to try, references, and known mistakes.

The notebook imports ``check`` and ``grade`` from here. Each ``Mistake`` is a wrong answer that
students really write; tests/test_exercises.py proves that every one is rejected.
"""

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake
from nnlib import activations as ref
from nnlib.gradcheck import numerical_derivative, numerical_gradient_array
from nnlib.tolerances import GRAD_STEP


def elementwise_cases(parameter=None):
    """Inputs for an elementwise activation; ``parameter(rng)`` draws its extra arguments (slope, alpha)."""

    def with_parameter(draw):
        return lambda rng: (draw(rng),) + (parameter(rng) if parameter else ())

    return (
        Case("standard normal inputs of shape (4, 5)", with_parameter(lambda rng: rng.standard_normal((4, 5)))),
        Case(
            "inputs of magnitude 1000 and more, both signs",
            with_parameter(lambda rng: np.concatenate([[-1e4, -1000.0, 1000.0, 1e4], rng.uniform(-2000, 2000, 12)])),
        ),
        Case("exact zeros among the inputs", with_parameter(lambda rng: np.array([-1.5, 0.0, 2.0, 0.0, -0.0]))),
        Case("a batch of one, shape (1, 6)", with_parameter(lambda rng: rng.standard_normal((1, 6)))),
        Case("float32 inputs of shape (3, 4)", with_parameter(lambda rng: rng.standard_normal((3, 4)).astype(np.float32))),
        Case("inputs spread over [-40, 40], shape (2, 3, 8)", with_parameter(lambda rng: rng.uniform(-40, 40, (2, 3, 8))), hidden=True),
        Case("small inputs near 0, shape (50,)", with_parameter(lambda rng: rng.uniform(-1e-3, 1e-3, 50)), hidden=True),
        Case("float32 inputs of magnitude up to 200", with_parameter(lambda rng: rng.uniform(-200, 200, 30).astype(np.float32)), hidden=True),
    )


def derivative_of_own_forward(kinks=()):
    """``numerical(forward, x, *params)``: central differences of the student's forward, NaN at kinks."""

    def numerical(forward, x, *params):
        derivative = numerical_derivative(lambda v: forward(v, *params), x)
        for kink in kinks:
            derivative[np.abs(np.asarray(x, dtype=np.float64) - kink) < 2 * GRAD_STEP] = np.nan
        return derivative

    return numerical


def slope(rng):
    return (float(rng.uniform(0.01, 0.3)),)


def alpha(rng):
    return (float(rng.uniform(0.5, 2.0)),)


def naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax_backward_cases():
    def draw(shape, scale=1.0):
        def inputs(rng):
            s = ref.softmax(scale * rng.standard_normal(shape))
            return rng.standard_normal(shape), s  # (dout, s)

        return inputs

    return (
        Case("a batch of 4 rows of 5 classes", draw((4, 5))),
        Case("a batch of one, 3 classes", draw((1, 3))),
        Case("peaked probabilities (logits scaled by 10)", draw((6, 4), scale=10.0)),
        Case("a batch of 16 rows of 10 classes", draw((16, 10)), hidden=True),
        Case("two classes", draw((8, 2)), hidden=True),
        Case("a batch of sequences, shape (2, 3, 4): the classes are the last axis", draw((2, 3, 4))),
        Case("a batch of sequences, shape (3, 2, 6)", draw((3, 2, 6)), hidden=True),
    )


def softmax_cases():
    return (
        Case("standard normal logits of shape (4, 5)", lambda rng: (rng.standard_normal((4, 5)),)),
        Case("logits of magnitude up to 1000", lambda rng: (rng.uniform(-1000, 1000, (3, 6)),)),
        Case("rows far apart: one row near +1000, one near -1000", lambda rng: (np.stack([1000 + rng.standard_normal(4), -1000 + rng.standard_normal(4)]),)),
        Case("a row of equal logits", lambda rng: (np.full((1, 5), 3.0),)),
        Case("a batch of one, shape (1, 7)", lambda rng: (rng.standard_normal((1, 7)),)),
        Case("float32 logits of shape (3, 4)", lambda rng: (rng.standard_normal((3, 4)).astype(np.float32),)),
        Case("a single class, shape (5, 1)", lambda rng: (rng.standard_normal((5, 1)),), hidden=True),
        Case("logits shifted by 1e4, shape (8, 10)", lambda rng: (1e4 + rng.standard_normal((8, 10)),), hidden=True),
        Case("logits of shape (2, 3, 5): softmax runs over the last axis", lambda rng: (rng.standard_normal((2, 3, 5)),)),
        Case("a batch of sequences of shape (3, 2, 4), rows offset by -1000, 0 and +1000",
             lambda rng: (rng.standard_normal((3, 2, 4)) + np.array([-1000.0, 0.0, 1000.0])[:, None, None],), hidden=True),
    )


EXERCISES = (
    Exercise(
        "sigmoid",
        ref.sigmoid,
        elementwise_cases(),
        mistakes=(
            Mistake("1 / (1 + exp(-x)) overflows in exp(-x) for x = -1000 (and np.where evaluates both of its branches, so hiding it in "
                    "one branch does not help): compute both branches from exp(-|x|)", naive_sigmoid),
            Mistake("the sign of the exponent is flipped: sigmoid is 1 / (1 + exp(-x))", lambda x: 1 / (1 + np.exp(x))),
            Mistake("0.5 * (1 + tanh(x)) needs tanh(x / 2)", lambda x: 0.5 * (1 + np.tanh(x))),
            Mistake("the result is clipped to avoid overflow, which changes it far from 0", lambda x: naive_sigmoid(np.clip(x, -10, 10))),
        ),
    ),
    Exercise(
        "sigmoid_derivative",
        ref.sigmoid_derivative,
        elementwise_cases(),
        forward="sigmoid",
        numerical=derivative_of_own_forward(),
        mistakes=(
            Mistake("the derivative is written as sigmoid(x) * (1 - x): it is sigmoid(x) * (1 - sigmoid(x))", lambda x: ref.sigmoid(x) * (1 - x)),
            Mistake("x * (1 - x) is the derivative in terms of the output s, not the input x", lambda x: x * (1 - x)),
            Mistake("sigmoid(x) * (1 + sigmoid(x)): the sign inside is a minus", lambda x: ref.sigmoid(x) * (1 + ref.sigmoid(x))),
        ),
    ),
    Exercise(
        "tanh",
        ref.tanh,
        elementwise_cases(),
        mistakes=(
            Mistake("2 * sigmoid(x) - 1 is tanh(x / 2): use 2 * sigmoid(2 * x) - 1", lambda x: 2 * ref.sigmoid(x) - 1),
            Mistake("(exp(x) - exp(-x)) / (exp(x) + exp(-x)) overflows for large |x|", lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))),
            Mistake("this is the sigmoid, not tanh", lambda x: ref.sigmoid(x)),
        ),
    ),
    Exercise(
        "tanh_derivative",
        ref.tanh_derivative,
        elementwise_cases(),
        forward="tanh",
        numerical=derivative_of_own_forward(),
        mistakes=(
            Mistake("1 - x**2 is the derivative in terms of the output t = tanh(x), not the input x", lambda x: 1 - x**2),
            Mistake("the square is missing: 1 - tanh(x)**2", lambda x: 1 - ref.tanh(x)),
            Mistake("(1 - tanh(x))**2 squares the difference instead of tanh(x)", lambda x: (1 - ref.tanh(x)) ** 2),
        ),
    ),
    Exercise(
        "relu",
        ref.relu,
        elementwise_cases(),
        mistakes=(
            Mistake("np.max(x, 0) is the largest value along axis 0; np.maximum(x, 0) compares elementwise", lambda x: np.max(x, 0)),
            Mistake("the absolute value keeps negative inputs (with a flipped sign)", lambda x: np.abs(x)),
            Mistake("the input is clipped to [0, 1]: ReLU has no upper limit", lambda x: np.clip(x, 0, 1)),
        ),
    ),
    Exercise(
        "relu_derivative",
        ref.relu_derivative,
        elementwise_cases(),
        forward="relu",
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
        ref.leaky_relu,
        elementwise_cases(parameter=slope),
        mistakes=(
            Mistake("the slope is applied to the positive side: x > 0 passes unchanged, x <= 0 is multiplied by slope", lambda x, a: np.where(x > 0, a * x, x)),
            Mistake("negative inputs become the constant slope instead of slope * x", lambda x, a: np.where(x > 0, x, a)),
            Mistake("negative inputs are set to 0: that is plain ReLU", lambda x, a: np.maximum(x, 0)),
        ),
    ),
    Exercise(
        "leaky_relu_derivative",
        ref.leaky_relu_derivative,
        elementwise_cases(parameter=slope),
        forward="leaky_relu",
        numerical=derivative_of_own_forward(kinks=(0.0,)),
        mistakes=(
            Mistake("the derivative is 0 for x <= 0: for leaky ReLU it is the slope", lambda x, a: (x > 0).astype(x.dtype)),
            Mistake("the two sides are swapped: 1 for x > 0, slope otherwise", lambda x, a: np.where(x > 0, a, 1.0).astype(x.dtype)),
            Mistake("slope * x is the function, not its derivative, for x <= 0", lambda x, a: np.where(x > 0, 1.0, a * x).astype(x.dtype)),
            Mistake("np.where(x > 0, 1.0, slope) returns float64 whatever the input: add .astype(x.dtype) to keep float32",
                    lambda x, a: np.where(x > 0, 1.0, a)),
            Mistake("x >= 0 gives 1 at the kink x = 0; this course uses the slope there (x > 0)",
                    lambda x, a: np.where(x >= 0, 1.0, a).astype(x.dtype)),
        ),
    ),
    Exercise(
        "elu",
        ref.elu,
        elementwise_cases(parameter=alpha),
        mistakes=(
            Mistake("alpha multiplies the whole of exp(x) - 1, not only exp(x)", lambda x, a: np.where(x > 0, x, a * np.exp(np.minimum(x, 0)) - 1)),
            Mistake("alpha is ignored", lambda x, a: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
            Mistake("np.where evaluates both branches: exp(x) overflows for large positive x unless it sees min(x, 0)", lambda x, a: np.where(x > 0, x, a * (np.exp(x) - 1))),
        ),
    ),
    Exercise(
        "elu_derivative",
        ref.elu_derivative,
        elementwise_cases(parameter=alpha),
        forward="elu",
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
        ref.softmax_backward,
        softmax_backward_cases(),
        forward="softmax",
        arg_names=("dout", "s"),
        # s = softmax(log s), so the student's softmax is differentiated at x = log s.
        numerical=lambda forward, dout, s: numerical_gradient_array(forward, np.log(s), dout),
        mistakes=(
            Mistake("only the diagonal of the Jacobian is used (s * dout): every output depends on every input",
                    lambda dout, s: s * dout),
            Mistake("s * (1 - s) * dout treats softmax as an elementwise sigmoid: the off-diagonal terms -s_i s_j are missing",
                    lambda dout, s: s * (1 - s) * dout),
            Mistake("the sum of dout * s runs over the wrong axis (the batch, axis 0)",
                    lambda dout, s: s * (dout - np.sum(dout * s, axis=0, keepdims=True))),
            Mistake("dout - s * sum(dout) is the backward pass of log-softmax", lambda dout, s: dout - s * np.sum(dout, axis=-1, keepdims=True)),
            Mistake("axis=1 is the last axis only for 2-D arrays: sum dout * s over the classes, axis=-1",
                    lambda dout, s: s * (dout - np.sum(dout * s, axis=1, keepdims=True))),
        ),
    ),
)

#: The nnlib functions this chapter asks students to write themselves.
FORBIDDEN = tuple(getattr(ref, e.name) for e in EXERCISES)

CATALOGUE = Catalogue("01_activations", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
