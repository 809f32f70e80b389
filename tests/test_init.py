"""Tests of nnlib.init: fans, variances on a large sample, dtype, reproducibility."""

import numpy as np
import pytest

from nnlib import init

pytestmark = [pytest.mark.ch03, pytest.mark.ch04]  # taught in chapter 4, used from chapter 3

# Non-square shapes, so that fan_in and fan_out differ and swapping them is detected.
DENSE = (500, 400)  # fan_in 500, fan_out 400; 200 000 samples
CONV = (64, 32, 3, 3)  # fan_in 32*9 = 288, fan_out 64*9 = 576; 18 432 samples

VARIANCE = {
    "xavier_uniform": lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    "xavier_normal": lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    "he_uniform": lambda fan_in, fan_out: 2 / fan_in,
    "he_normal": lambda fan_in, fan_out: 2 / fan_in,
}


def test_fans_of_dense_and_conv_shapes():
    assert init.fans((500, 400)) == (500, 400)
    assert init.fans((64, 32, 3, 3)) == (288, 576)
    assert init.fans((8, 1, 5, 3)) == (15, 120)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_fans_reject_other_ranks(shape):
    with pytest.raises(ValueError, match=r"\(D, M\).*\(F, C, KH, KW\).*" + str(len(shape)) + "-D"):
        init.fans(shape)


def test_fans_reject_non_positive_sizes():
    with pytest.raises(ValueError, match="positive"):
        init.fans((0, 3))


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_empirical_variance_matches_the_formula(name, shape, rng):
    w = getattr(init, name)(shape, rng=rng)
    n = w.size
    expected = VARIANCE[name](*init.fans(shape))
    # The sample variance of n draws has relative standard error sqrt(2 / n) for a normal
    # (sqrt(0.8 / n) for a uniform): 1.4% for the conv shape, 0.3% for the dense one. Five standard
    # errors keeps false failures below 1e-6, while swapped fans (x1.25 or x2) or a wrong constant
    # (x1.5 or more) are far outside.
    assert w.var() == pytest.approx(expected, rel=5 * np.sqrt(2 / n))
    assert abs(w.mean()) < 5 * np.sqrt(expected / n)


@pytest.mark.parametrize("name", ["xavier_uniform", "he_uniform"])
def test_uniform_initialisers_fill_their_interval(name, rng):
    w = getattr(init, name)(DENSE, rng=rng)
    limit = np.sqrt(3 * VARIANCE[name](*init.fans(DENSE)))  # U(-a, a) has variance a**2 / 3
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit
    assert 0.45 < np.mean(w > 0) < 0.55


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_dtype_and_shape(name, rng):
    assert getattr(init, name)((3, 4), rng=rng).dtype == np.float64
    w = getattr(init, name)((6, 2, 3, 3), rng=rng, dtype=np.float32)
    assert w.dtype == np.float32 and w.shape == (6, 2, 3, 3)


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_same_seed_same_weights_and_no_global_rng(name):
    f = getattr(init, name)
    global_state = np.random.get_state()[1].copy()
    a = f((7, 5), rng=np.random.default_rng(42))
    b = f((7, 5), rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, f((7, 5), rng=np.random.default_rng(43)))
    generator = np.random.default_rng(42)
    assert not np.array_equal(f((7, 5), rng=generator), f((7, 5), rng=generator))  # the generator advances
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


@pytest.mark.parametrize("bad", [0, None, np.random], ids=["int", "None", "module"])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match="default_rng"):
        init.he_normal((3, 4), rng=bad)


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_rng_is_keyword_only(name, rng):
    # nnlib's convention: randomness only through the keyword rng (a positional generator is refused)
    with pytest.raises(TypeError):
        getattr(init, name)((3, 4), rng)


@pytest.mark.parametrize("name", sorted(VARIANCE))
@pytest.mark.parametrize("dtype", [np.int64, bool, "U3"])
def test_a_non_floating_dtype_is_a_value_error(name, dtype, rng):
    with pytest.raises(ValueError, match="floating dtype"):
        getattr(init, name)((3, 4), rng=rng, dtype=dtype)
