"""Tests of nnlib.validation: each check passes good input and names expected and actual values."""

import numpy as np
import pytest

from nnlib.validation import (
    as_float_array,
    require_generator,
    require_labels,
    require_ndim,
    require_probability,
    require_same_shape,
    require_shape,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_float_array_keeps_floating_arrays_as_they_are(dtype):
    x = np.ones(3, dtype=dtype)
    assert as_float_array(x, "x") is x  # no copy, no upcast


@pytest.mark.parametrize("values", [[1, 2], np.array([1, 2], dtype=np.uint8), np.array([True, False])])
def test_as_float_array_turns_integers_and_booleans_into_float64(values):
    out = as_float_array(values, "x")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.asarray(values, dtype=np.float64))


def test_as_float_array_rejects_non_numbers_naming_the_argument():
    with pytest.raises(TypeError, match="logits must hold real numbers, got an array of dtype <U1"):
        as_float_array(["a", "b"], "logits")
    with pytest.raises(TypeError, match="complex"):
        as_float_array(np.array([1j]), "x")


def test_require_ndim():
    require_ndim(np.zeros((2, 3)), 2, "x", "(N, D)")
    with pytest.raises(ValueError, match=r"^x must have shape \(N, D\) \(2-D\), got shape \(6,\) \(1-D\)\.$"):
        require_ndim(np.zeros(6), 2, "x", "(N, D)")


def test_require_shape():
    require_shape(np.zeros((4, 3)), (4, None), "w")
    with pytest.raises(ValueError, match=r"^w must have shape \(4, any\), got shape \(3, 4\)\.$"):
        require_shape(np.zeros((3, 4)), (4, None), "w")
    with pytest.raises(ValueError, match=r"^b must have shape \(3,\), got shape \(3, 1\)\.$"):
        require_shape(np.zeros((3, 1)), (3,), "b")  # the rank must match too


def test_require_same_shape_does_not_broadcast():
    require_same_shape(np.zeros((2, 3)), np.ones((2, 3)), "pred", "target")
    with pytest.raises(ValueError, match=r"pred and target must have the same shape, got \(3,\) and \(3, 1\)\."):
        require_same_shape(np.zeros(3), np.zeros((3, 1)), "pred", "target")


def test_require_labels():
    require_labels(np.array([0, 2, 1]), 3, 3)
    with pytest.raises(ValueError, match=r"y must have shape \(3,\), got shape \(3, 1\)"):
        require_labels(np.array([[0], [1], [2]]), 3, 3)  # a column of labels
    with pytest.raises(TypeError, match="integer class labels, got dtype float64"):
        require_labels(np.array([0.0, 1.0, 1.0]), 3, 3)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\), got values from 1 to 3"):
        require_labels(np.array([1, 3, 2]), 3, 3)  # labels counted from 1
    with pytest.raises(ValueError, match=r"got values from -1 to 2"):
        require_labels(np.array([-1, 0, 2]), 3, 3)


def test_require_probability():
    for p in (0.0, 0.5, 0.999):
        require_probability(p, "drop_prob")
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=rf"drop_prob must be in \[0, 1\), got {p}"):
            require_probability(p, "drop_prob")


def test_require_generator_accepts_a_generator_and_names_what_it_got():
    require_generator(np.random.default_rng(0))
    for bad, actual in [(0, "int"), (None, "None"), (np.random, "module"), (np.random.RandomState(0), "RandomState")]:
        with pytest.raises(
            TypeError,
            match=rf"^rng must be a numpy\.random\.Generator, e\.g\. np\.random\.default_rng\(0\), got {actual}\.$",
        ):
            require_generator(bad)
    with pytest.raises(TypeError, match=r"^shuffle_rng must be a numpy\.random\.Generator"):
        require_generator(42, name="shuffle_rng")
