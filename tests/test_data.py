"""Tests of nnlib.data: generated data sets and the shipped digits."""

import numpy as np
import pytest

from nnlib import data
from nnlib.datasets import make_digits

GENERATORS = {
    "spirals": lambda rng: data.spirals(40, n_classes=4, rng=rng),
    "moons": lambda rng: data.moons(81, rng=rng),
    "xor": lambda rng: data.xor(60, rng=rng),
    "noisy_sine": lambda rng: data.noisy_sine(5, 12, rng=rng),
}


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


# ---------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_ranges(digits):
    expected = {"x_train": (8000, 1, 16, 16), "y_train": (8000,), "x_test": (2000, 1, 16, 16), "y_test": (2000,)}
    assert {k: v.shape for k, v in digits.items()} == expected
    for split in ("train", "test"):
        x, y = digits[f"x_{split}"], digits[f"y_{split}"]
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0
        assert y.min() == 0 and y.max() == 9
        # every image has ink: its brightest pixel stands well above its median (the background)
        flat = x.reshape(len(x), -1)
        assert np.all(flat.max(axis=1) - np.median(flat, axis=1) > 0.3)


def test_digits_classes_are_balanced(digits):
    assert np.bincount(digits["y_train"]).tolist() == [800] * 10
    assert np.bincount(digits["y_test"]).tolist() == [200] * 10


def test_digits_are_fresh_arrays_each_call(digits):
    again = data.load_digits()
    assert again["x_train"] is not digits["x_train"]
    again["x_train"][0] = 0.5
    assert not np.shares_memory(again["x_train"], digits["x_train"])


def test_digits_file_matches_the_generating_script(digits):
    # Labels regenerate exactly; a sample of images regenerates too. Images are compared level by level
    # with room for one 17-level step on a rare pixel, in case a math library rounds a last bit differently.
    for split, n, seed in [("train", make_digits.N_TRAIN, make_digits.TRAIN_SEED),
                           ("test", make_digits.N_TEST, make_digits.TEST_SEED)]:
        labels = make_digits.make_labels(n, seed)
        np.testing.assert_array_equal(labels, digits[f"y_{split}"])
        for i in [0, 1, 2, n // 2, n - 1]:
            image = make_digits.make_image(labels[i], seed, i).astype(np.float32) / 255
            diff = np.abs(image - digits[f"x_{split}"][i, 0])
            assert diff.max() <= 1 / make_digits.LEVELS + 1e-6 and np.mean(diff > 0) < 0.02


def test_corrupted_digits_file_is_refused(tmp_path):
    raw = bytearray(data.DIGITS_PATH.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "digits.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted or was changed: its SHA-256 is [0-9a-f]{64}, expected"):
        data.load_digits(bad)
    with pytest.raises(FileNotFoundError, match="is missing"):
        data.load_digits(tmp_path / "absent.npz")


def test_digits_file_is_small():
    assert data.DIGITS_PATH.stat().st_size < 2_000_000


def test_digit_skeletons_cover_every_class():
    assert sorted(make_digits.SKELETONS) == list(range(10))
    rng = np.random.default_rng(0)
    for label in range(10):
        img = make_digits.render(label, rng)
        assert img.shape == (16, 16) and 0 <= img.min() and img.max() <= 1


# ---------------------------------------------------------------- generators


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_other_seed_other_data(name):
    make = GENERATORS[name]
    a, b, c = make(np.random.default_rng(3)), make(np.random.default_rng(3)), make(np.random.default_rng(4))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_leave_the_global_rng_alone(name):
    before = np.random.get_state()
    GENERATORS[name](np.random.default_rng(0))
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_classification_sets_shapes_dtypes_and_balance():
    rng = np.random.default_rng(5)
    X, y = data.spirals(40, n_classes=4, rng=rng)
    assert X.shape == (160, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [40] * 4
    assert np.all(np.hypot(*X.T) <= 1.0 + 1e-12)
    X, y = data.moons(81, rng=rng)
    assert X.shape == (81, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [40, 41]
    X, y = data.xor(2000, noise=0.1, rng=rng)
    assert X.shape == (2000, 2) and y.dtype == np.int64
    assert abs(np.mean(y) - 0.5) < 0.05
    # labels follow the nearest corner: XOR of the rounded coordinates
    near = np.all(np.abs(X - np.round(X)) < 0.3, axis=1)
    np.testing.assert_array_equal(y[near], np.round(X[near, 0]).astype(int) ^ np.round(X[near, 1]).astype(int))


def test_sets_are_shuffled():
    _, y = data.spirals(30, rng=np.random.default_rng(6))
    assert not np.all(np.diff(y) >= 0)


def test_noisy_sine_targets_and_noise_level():
    x, target = data.noisy_sine(200, 30, noise=0.2, rng=np.random.default_rng(7))
    assert x.shape == target.shape == (200, 30, 1) and x.dtype == target.dtype == np.float64
    assert np.all(np.abs(target) <= 1.0)
    residual = x[:, 1:] - target[:, :-1]  # the input at t+1 is the clean target of t plus noise
    assert abs(residual.std() - 0.2) < 0.01


@pytest.mark.parametrize("call", [
    lambda rng: data.spirals(10, 3, 0.2, rng=rng),
    lambda rng: data.moons(10, 0.1, rng=rng),
    lambda rng: data.xor(10, 0.1, rng=rng),
    lambda rng: data.noisy_sine(2, 5, 0.1, rng=rng),
], ids=["spirals", "moons", "xor", "noisy_sine"])
def test_options_are_keyword_only_like_rng(call):
    # One convention for every generator: sizes positional, noise, n_classes and rng by keyword.
    with pytest.raises(TypeError):
        call(np.random.default_rng(0))


def test_generator_arguments_are_checked():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        data.spirals(10, rng=0)
    with pytest.raises(ValueError, match="n_per_class must be an integer >= 1, got 0"):
        data.spirals(0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise must be >= 0, got -0.1"):
        data.moons(10, noise=-0.1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="length must be an integer >= 1, got 2.5"):
        data.noisy_sine(3, 2.5, rng=np.random.default_rng(0))


def test_digits_are_not_trivial_for_a_linear_model(digits):
    # Softmax regression on the pixels learns a lot but stays far from perfect (about 85% when trained
    # to convergence); a small CNN reaches over 95% (tests/benchmarks/bench_training.py).
    from nnlib.model import Dense, Flatten, Sequential, evaluate, train

    rng = np.random.default_rng(0)
    model = Sequential([Flatten(), Dense(256, 10, rng=rng, init="xavier", dtype=np.float32)])
    train(model, digits["x_train"], digits["y_train"], lr=3e-3, epochs=3, batch_size=128, rng=rng, progress=False)
    _, accuracy = evaluate(model, digits["x_test"], digits["y_test"])
    assert 0.6 < accuracy < 0.9
