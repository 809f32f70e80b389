"""Plots and widgets for the notebooks, kept apart from the numerics (matplotlib, ipywidgets).

One module per chapter topic (``nnlib.viz.activations``, ...). What they share is here: plots and
widgets draw the student's own function, and fall back to nnlib's while the exercise is unsolved.
"""

import functools
import warnings

import numpy as np

#: Part of the message of the grading sandbox's stubs (``autograder.sandbox.stub_sources``): while a
#: chapter is graded, nnlib's answers to its exercises raise ``RuntimeError`` with this text.
GRADING_STUB_TEXT = "is not available while chapter"


def is_grading_stub(error):
    """Whether ``error`` comes from a grading sandbox's stub of an nnlib function (and not from a real bug)."""
    return isinstance(error, RuntimeError) and GRADING_STUB_TEXT in str(error)


def print_skipped(what, stubbed):
    """The one line a figure or experiment shows instead of its result while the grader stubs ``stubbed``."""
    print(f"{what}: skipped while this chapter is graded (the grader replaces {stubbed} with stubs).")


def skipped_under_grading_stubs(what, stubbed):
    """Decorator: a figure that needs nnlib's functions (as the fallback, or to compare with) prints
    ``print_skipped(what, stubbed)`` and returns None when the grader has stubbed them, instead of a
    traceback in the student's feedback; any other error propagates."""

    def decorate(plot):
        @functools.wraps(plot)
        def wrapper(*args, **kwargs):
            try:
                return plot(*args, **kwargs)
            except RuntimeError as error:
                if not is_grading_stub(error):
                    raise
                print_skipped(what, stubbed)
                return None

        return wrapper

    return decorate


def attempted(function, *probe_args):
    """True if ``function(*probe_args)`` runs without NotImplementedError and gives finite numbers.

    >>> def stub(x):
    ...     raise NotImplementedError
    >>> attempted(stub, np.zeros(3)), attempted(np.tanh, np.zeros(3))
    (False, True)
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = function(*probe_args)
    except NotImplementedError:
        return False
    except Exception:  # a broken attempt is still an attempt; the plot will show what it can
        return True
    values = result if isinstance(result, tuple) else (result,)
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values if v is not None)


def student_or_reference(function, reference, *probe_args):
    """``(function, "yours")`` once the student's function works on ``probe_args``, else ``(reference, "nnlib's")``.

    >>> def stub(x):
    ...     raise NotImplementedError
    >>> student_or_reference(stub, np.tanh, np.zeros(2))[1]
    "nnlib's (yours is not written yet)"
    """
    if attempted(function, *probe_args):
        return function, "yours"
    return reference, "nnlib's (yours is not written yet)"
