"""Fixtures shared by nnlib's tests. Keep this file small: helpers belong next to their tests."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh seeded Generator per test, so that a test's data does not depend on test order."""
    return np.random.default_rng(20261126)


@pytest.fixture
def strict_fp():
    """Turn overflow, division by zero and invalid operations (NaN) into FloatingPointError.

    Underflow stays silent: exp(-1000) == 0 is the correct limit, not an error.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield
