"""Plots and widgets for the notebooks, kept apart from the numerics (matplotlib, ipywidgets).

One module per chapter topic (``nnlib.viz.activations``, ...). What they share is here: plots and
widgets draw the student's own function, and fall back to nnlib's while the exercise is unsolved.
"""

import warnings

import numpy as np


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
