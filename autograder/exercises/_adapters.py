"""What several chapters' catalogues share to call a student's function and unpack its result."""

import numpy as np


def describe(value):
    """A few words on what a student's function returned, for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return type(value).__name__


def pair(result, name, expected="(out, cache)"):
    """``result`` as a 2-tuple, or a TypeError saying what ``name`` should return."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{name} should return a pair {expected}, got {describe(result)}.")
    return result
