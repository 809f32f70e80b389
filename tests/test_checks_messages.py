"""Issue 7's messages: blame on the right function, names from the student's signature, no advice
where nothing was compared, 'only the loss is wrong', a hint for a missing keepdims, and no
'(the dtype of the inputs)' for integer inputs."""

import numpy as np
import pytest

from autograder.checks import Case, Catalogue, Exercise
from autograder.exercises.activations import CATALOGUE as ACTIVATIONS
from autograder.exercises.backprop import CATALOGUE as BACKPROP


def evaluate(catalogue, name, function, forward=None, **kwargs):
    return Catalogue(catalogue.chapter, catalogue.exercises.values()).evaluate(name, function, forward, **kwargs)


# -- a student's ReLU layer, right and in several wrong ways ------------------------------------------


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def raising_forward(x):
    return np.maximum(x, 0, axis=1), x  # TypeError


def mutating_forward(x):
    np.maximum(x, 0, out=x)
    return x, x


def wrong_forward(x):
    return np.abs(x), x  # the cache is right, the output is not


def stub_forward(x):
    raise NotImplementedError()


@pytest.mark.parametrize(
    "forward, fault",
    [
        (raising_forward, "raised TypeError"),
        (mutating_forward, "modified its input x (argument 1) in place"),
        (wrong_forward, "is wrong: out is wrong"),
        (stub_forward, "still raises NotImplementedError"),
    ],
    ids=["raises", "mutates", "wrong", "stub"],
)
def test_a_right_backward_is_not_charged_for_its_forwards_fault(forward, fault):
    for hidden in (False, True):
        report = evaluate(BACKPROP, "relu_backward", relu_backward, forward, hidden=hidden)
        assert report.passed, str(report)
        assert f"your relu_forward {fault}" in report.message and "fix relu_forward" in report.message


def test_a_wrong_backward_fails_and_the_message_names_the_forward():
    report = evaluate(BACKPROP, "relu_backward", lambda dout, cache: dout, mutating_forward)
    assert report.status == "failed"
    assert "checked on nnlib's relu_forward instead, because your relu_forward modified its input" in report.message
    assert "Likely cause: the gradient is passed where x < 0 too" in report.message


def test_a_backward_that_cannot_run_without_the_forward_says_so():
    def backward_of_an_own_layout(dout, cache):
        x, mask, extra = cache  # a cache no other forward gives
        return dout * mask

    report = evaluate(BACKPROP, "relu_backward", backward_of_an_own_layout, raising_forward)
    assert report.status == "failed"
    assert "relu_backward could not be checked, because your relu_forward raised TypeError" in report.message
    assert "Fix relu_forward first" in report.message


def test_the_affine_layer_too():
    def affine_forward(x, w, b):
        return x @ w + b, (x, w, b)

    def affine_backward(dout, cache):
        x, w, b = cache
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    def affine_forward_without_bias(x, w, b):
        return x @ w, (x, w, b)

    assert evaluate(BACKPROP, "affine_backward", affine_backward, affine_forward).message.count("fix") == 0
    report = evaluate(BACKPROP, "affine_backward", affine_backward, affine_forward_without_bias)
    assert report.passed and "your affine_forward is wrong" in report.message


def test_modified_inputs_are_named_as_the_students_signature_names_them():
    def relu_backward_in_place(grad_out, cache):
        grad_out[cache <= 0] = 0
        return grad_out

    report = evaluate(BACKPROP, "relu_backward", relu_backward_in_place, relu_forward)
    assert "relu_backward modified its input grad_out (argument 1) in place" in report.message


def test_no_advice_about_the_forward_where_central_differences_are_undefined():
    # Wrong only at the kink x = 0, where the numerical derivative of relu is undefined.
    report = evaluate(ACTIVATIONS, "relu_derivative", lambda x: (x >= 0).astype(x.dtype), lambda x: np.maximum(x, 0))
    assert report.status == "failed" and "kink" in report.message
    assert "fix relu first" not in report.message and "numerical derivative" not in report.message


def test_a_wrong_loss_with_right_gradients_is_said_so():
    from nnlib import dense

    def two_layer_loss(params, x, y):
        loss, grads = dense.two_layer_loss(params, x, y)
        return loss + 0.5, grads

    report = evaluate(BACKPROP, "two_layer_loss", two_layer_loss, BACKPROP["affine_forward"].answer)
    assert report.status == "failed"
    assert "Your gradients are right: only the loss is wrong." in report.message


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


SOFTMAX = Catalogue("t", (Exercise("softmax", softmax, (Case("logits of shape (4, 5)", lambda rng: (rng.standard_normal((4, 5)),)),)),))


def test_a_missing_keepdims_gets_its_own_hint():
    def softmax_without_keepdims(x):
        e = np.exp(x - x.max(axis=1))
        return e / e.sum(axis=1)

    report = SOFTMAX.evaluate("softmax", softmax_without_keepdims)
    assert "operands could not be broadcast" in report.message  # numpy's error, as raised
    assert "keepdims=True" in report.message and "(4, 1)" in report.message


def test_no_dtype_of_the_inputs_for_integer_inputs():
    counts = Exercise("double", lambda y: 2 * y, (Case("integer labels", lambda rng: (rng.integers(0, 5, 6),)),))
    report = Catalogue("t", (counts,)).evaluate("double", lambda y: 2.0 * y)
    assert "should have dtype int64, got float64" in report.message
    assert "the dtype of the inputs" not in report.message
