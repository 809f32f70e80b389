"""Chapter 6's exercises, recurrent networks and backpropagation through time: inputs, references, mistakes.

The notebook imports ``check`` and ``grade`` from here. The exercises, in the notebook's order:

- ``rnn_step_forward`` / ``rnn_step_backward``: one step ``h = act(h_prev @ w_h + x @ w_x + b)``, with
  the seed's sigmoid or with tanh, and its gradients (derived by the student);
- ``rnn_forward`` / ``rnn_backward``: a whole sequence, ``(N, T, D)`` in, ``(N, T, H)`` out, and
  backpropagation through time;
- ``clip_grad_norm``: clipping by the global norm of all gradients (any keys), returning new arrays;
- ``train_tbptt``: truncated BPTT over chunks of the sequences, the state carried as a value; the check
  passes its own loss and its own clipping (``clip``), so that only train_tbptt's own faults cost its points;
- ``fit_sine``: the synthesis, a network trained by the student's pieces that must predict held-out
  noisy sine waves one step ahead below a stated mean squared error. With an engine that has
  ``Exercise.judged``, the record holds the trained parameters and the grader computes their held-out
  error itself (``judge_fit_sine``); otherwise the error is computed in the student's process.

``activation`` is the last argument of every case of the forward exercises, passed by position as the
notebook's signatures ``f(x, h_prev, w_x, w_h, b, activation="tanh")`` allow. The
mistakes of the backward exercises run on this module's own forward references, whose cache also
holds the pre-activation ``a``, so that a derivative taken at the wrong place can be written down.
"""

import dataclasses

import numpy as np

from autograder.checks import Case, Catalogue, Exercise, Mistake, trusted
from autograder.exercises._adapters import describe as _describe, pair as _pair
from nnlib import activations as act
from nnlib import gradcheck, rnn

#: The parameters of the chapter's model, in the order the checks report them.
KEYS = rnn.REGRESSION_KEYS

#: The held-out mean squared error the synthesis must reach (predicting the last-step persistence,
#: ``pred = x_t``, gives about 0.045 on these waves; nnlib's pieces reach about 0.016).
SINE_THRESHOLD = 0.025

#: The shape of the synthesis's data: sequences, steps, and the seeds of the fixed data sets.
SINE_SHAPE = (64, 60)
SINE_NOISE = 0.1


class ReturnedItsInput(Exception):
    """Raised by an adapter when a function returned an array it was given where a new one is promised."""


# -- small helpers ---------------------------------------------------------------------------------




def _unpack(params, name, what, keys=KEYS):
    if not isinstance(params, dict) or set(params) != set(keys):
        got = f"keys {sorted(map(str, params))}" if isinstance(params, dict) else _describe(params)
        raise TypeError(f"{name} should return {what} with the keys {', '.join(keys)}; got {got}.")
    return tuple(params[k] for k in keys)


def _derivative_from_output(activation, h):
    """act'(a) written with the output h = act(a)."""
    return 1 - h * h if activation == "tanh" else h * (1 - h)


def _act(activation):
    return np.tanh if activation == "tanh" else act.sigmoid


# -- references --------------------------------------------------------------------------------------


def step_forward_answer(x, h_prev, w_x, w_h, b, activation="tanh"):
    """nnlib's step in the notebook's signature (activation by position or keyword)."""
    return rnn.rnn_step_forward(x, h_prev, w_x, w_h, b, activation=activation)


def forward_answer(x, h0, w_x, w_h, b, activation="tanh"):
    return rnn.rnn_forward(x, h0, w_x, w_h, b, activation=activation)


def step_forward_reference(x, h_prev, w_x, w_h, b, activation="tanh"):
    """The step, with a cache that holds the pre-activation too: ``(x, h_prev, w_x, w_h, a, h, activation)``."""
    a = h_prev @ w_h + x @ w_x + b  # (N, H)
    h = _act(activation)(a)
    return h, (x, h_prev, w_x, w_h, a, h, activation)


def sequence_forward_reference(x, h0, w_x, w_h, b, activation="tanh"):
    """The sequence, with the cache ``(x, h0, w_x, w_h, a, h, activation)``, a and h of shape (N, T, H)."""
    N, T, _ = x.shape
    f = _act(activation)
    a = np.empty((N, T, w_h.shape[0]), dtype=np.result_type(x, h0, w_x, w_h, b))
    h = np.empty_like(a)
    state = h0
    for t in range(T):
        a[:, t] = state @ w_h + x[:, t] @ w_x + b
        state = h[:, t] = f(a[:, t])
    return h, (x, h0, w_x, w_h, a, h, activation)


def _first(name, pair):
    """Adapter for a forward pass ``f(*args, activation=...) -> (out, cache)``: the check compares ``out``."""

    def run(function, forward, *args):
        return (_pair(function(*args), name, pair)[0],)

    return run


def run_step_backward(function, forward, x, h_prev, w_x, w_h, b, activation, dout):
    cache = _pair(forward(x, h_prev, w_x, w_h, b, activation), "rnn_step_forward", "(h, cache)")[1]
    return function(dout, cache)


def step_backward_expected(x, h_prev, w_x, w_h, b, activation, dout):
    return rnn.rnn_step_backward(dout, step_forward_answer(x, h_prev, w_x, w_h, b, activation)[1])


def run_backward(function, forward, x, h0, w_x, w_h, b, activation, dout):
    cache = _pair(forward(x, h0, w_x, w_h, b, activation), "rnn_forward", "(h, cache)")[1]
    return function(dout, cache)


def backward_expected(x, h0, w_x, w_h, b, activation, dout):
    return rnn.rnn_backward(dout, forward_answer(x, h0, w_x, w_h, b, activation)[1])


# -- numerical gradients of the student's own forward passes -----------------------------------------


def _numerical(forward, arrays, activation, dout):
    """Central differences of ``sum(forward(*arrays)[0] * dout)`` with respect to each array."""
    grads = []
    for position in range(len(arrays)):
        def out(v, position=position):
            args = list(arrays)
            args[position] = v
            return forward(*args, activation)[0]

        grads.append(gradcheck.numerical_gradient_array(out, arrays[position].copy(), dout))
    return tuple(grads)


def step_numerical(forward, x, h_prev, w_x, w_h, b, activation, dout):
    return _numerical(forward, (x, h_prev, w_x, w_h, b), activation, dout)


def sequence_numerical(forward, x, h0, w_x, w_h, b, activation, dout):
    return _numerical(forward, (x, h0, w_x, w_h, b), activation, dout)


# -- inputs ------------------------------------------------------------------------------------------


def _step_arrays(rng, n, d, h, scale=0.5, dtype=np.float64, transposed=False):
    w_h = scale * rng.standard_normal((h, h))
    arrays = [rng.standard_normal((n, d)), rng.standard_normal((n, h)).clip(-0.95, 0.95),
              scale * rng.standard_normal((d, h)), np.asfortranarray(w_h) if transposed else w_h,
              0.1 * rng.standard_normal(h)]
    return [a.astype(dtype) if dtype != np.float64 else a for a in arrays]


def step_cases(with_dout):
    def draw(n, d, h, activation, **options):
        def inputs(rng):
            arrays = _step_arrays(rng, n, d, h, **options)
            args = (*arrays, activation)
            if with_dout:
                args += (rng.standard_normal((n, h)).astype(arrays[0].dtype),)
            return args

        return inputs

    return (
        Case("tanh, a batch of 3, D = 4 inputs, H = 5 hidden units", draw(3, 4, 5, "tanh")),
        Case("the seed's sigmoid, N = 3, D = 4, H = 5", draw(3, 4, 5, "sigmoid")),
        Case("tanh, a batch of one, D = 1, H = 2", draw(1, 1, 2, "tanh")),
        Case("tanh, large weights (the step saturates), N = 4, D = 3, H = 6", draw(4, 3, 6, "tanh", scale=3.0)),
        Case("sigmoid, float32 inputs, N = 2, D = 3, H = 4", draw(2, 3, 4, "sigmoid", dtype=np.float32)),
        Case("tanh, w_h stored column-major (a transposed view), N = 3, D = 2, H = 4",
             draw(3, 2, 4, "tanh", transposed=True)),
        Case("sigmoid, a batch of 8, D = 6, H = 3", draw(8, 6, 3, "sigmoid"), hidden=True),
        Case("tanh, float32 inputs, N = 5, D = 2, H = 7", draw(5, 2, 7, "tanh", dtype=np.float32), hidden=True),
        Case("sigmoid, large weights, w_h column-major, N = 2, D = 5, H = 5",
             draw(2, 5, 5, "sigmoid", scale=3.0, transposed=True), hidden=True),
    )


def sequence_cases(with_dout, last_only=False):
    def draw(n, t, d, h, activation, scale=0.5, dtype=np.float64, transposed=False, only_last=False):
        def inputs(rng):
            x = rng.standard_normal((n, t, d))
            if transposed:  # a (N, T, D) view of a (T, N, D) buffer: the layout a student could confuse
                x = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
            _, h0, w_x, w_h, b = _step_arrays(rng, n, d, h, scale=scale)
            arrays = [a.astype(dtype) if dtype != np.float64 else a for a in (x, h0, w_x, w_h, b)]
            args = (*arrays, activation)
            if with_dout:
                dout = rng.standard_normal((n, t, h))
                if only_last:
                    dout[:, :-1] = 0.0
                args += (dout.astype(dtype),)
            return args

        return inputs

    return (
        Case("tanh, N = T = 4 (both layouts have the same shape), D = 3, H = 5", draw(4, 4, 3, 5, "tanh")),
        Case("tanh, N = 3 sequences of T = 5 steps, D = 4, H = 6", draw(3, 5, 4, 6, "tanh")),
        Case("the seed's sigmoid, N = 2, T = 4, D = 3, H = 5", draw(2, 4, 3, 5, "sigmoid")),
        Case("tanh, one step (T = 1), N = 4, D = 2, H = 3", draw(4, 1, 2, 3, "tanh")),
        Case("tanh, a gradient on the last state only, N = 2, T = 6, D = 3, H = 4",
             draw(2, 6, 3, 4, "tanh", scale=1.0, only_last=True)),
        Case("sigmoid, float32, N = 3, T = 4, D = 2, H = 5", draw(3, 4, 2, 5, "sigmoid", dtype=np.float32)),
        Case("tanh, x a transposed view of a (T, N, D) buffer, N = 2, T = 3, D = 3, H = 4",
             draw(2, 3, 3, 4, "tanh", transposed=True)),
        Case("tanh, N = 5, T = 8, D = 3, H = 7", draw(5, 8, 3, 7, "tanh"), hidden=True),
        Case("sigmoid, a gradient on the last state only, N = 3, T = 7, D = 2, H = 4",
             draw(3, 7, 2, 4, "sigmoid", scale=1.0, only_last=True), hidden=True),
        Case("tanh, float32, x a transposed view, N = 4, T = 6, D = 2, H = 3",
             draw(4, 6, 2, 3, "tanh", dtype=np.float32, transposed=True), hidden=True),
        Case("sigmoid, N = T = 3 (both layouts have the same shape), D = 2, H = 4", draw(3, 3, 2, 4, "sigmoid"),
             hidden=True),
    )


# -- mistakes: one step ------------------------------------------------------------------------------


def _step_mistake(derivative="output", carry_weights=True, dw_h_transposed=False, db_summed=True, dw_h_from="h_prev"):
    """A wrong rnn_step_backward from ``step_forward_reference``'s cache."""

    def backward(dout, cache):
        x, h_prev, w_x, w_h, a, h, activation = cache
        if derivative == "output":
            da = dout * _derivative_from_output(activation, h)
        elif derivative == "at the output":  # act' evaluated at h, as if h were the input
            da = dout * _derivative_from_output(activation, _act(activation)(h))
        elif derivative == "output formula at a":  # the output formula applied to the input a
            da = dout * _derivative_from_output(activation, a)
        else:
            da = dout
        dh_prev = da @ w_h.T if carry_weights else da
        dw_h = da.T @ h_prev if dw_h_transposed else (h if dw_h_from == "h" else h_prev).T @ da
        return da @ w_x.T, dh_prev, x.T @ da, dw_h, da.sum(axis=0) if db_summed else da

    return backward


AT_THE_OUTPUT = ("act' is evaluated at the step's output h: h is already act(a), and the derivative belongs at the "
                 "input a; written with the output, tanh'(a) = 1 - h**2 and sigmoid'(a) = h (1 - h)")
FORMULA_AT_A = ("the output form of the derivative (1 - h**2, or h (1 - h)) is applied to the pre-activation a: "
                "it takes the output h = act(a)")


# -- mistakes: the sequence --------------------------------------------------------------------------


def _forward_mistake(*, carry=True, from_h0=True, layout="NTH", with_h0=False, read="x[:, t]"):
    def forward(x, h0, w_x, w_h, b, activation="tanh"):
        N, T, _ = x.shape
        f = _act(activation)
        start = h0 if from_h0 else np.zeros_like(h0)
        state, states = start, []
        for t in range(T):
            x_t = x[t] if read == "x[t]" else x[:, t]  # x[t] is sequence t (T, D): it fits only when N = T
            state = f((state if carry else start) @ w_h + x_t @ w_x + b)
            states.append(state)
        if with_h0:
            states.insert(0, start)
        h = np.stack(states, axis=1)
        return (h.transpose(1, 0, 2) if layout == "TNH" else h), None

    return forward


def _bptt_mistake(*, carry=True, own_gradient=True, derivative="output", sum_over_time=True, dh0="through",
                  layout="NTD", own_last=True, dx_order="forward", dw_h_from="h_prev"):
    """A wrong rnn_backward from ``sequence_forward_reference``'s cache, one step changed."""

    def backward(dout, cache):
        x, h0, w_x, w_h, a, h, activation = cache
        N, T, _ = x.shape
        if derivative == "output":
            dact = _derivative_from_output(activation, h)
        elif derivative == "at the output":
            dact = _derivative_from_output(activation, _act(activation)(h))
        else:
            dact = _derivative_from_output(activation, a)
        dx = np.zeros_like(x)
        dw_x, dw_h, db = np.zeros_like(w_x), np.zeros_like(w_h), np.zeros(w_h.shape[0], dtype=h.dtype)
        carried = np.zeros_like(h0)
        dh_first = None
        for t in reversed(range(T)):
            own = dout[:, t] if (own_gradient or t == T - 1) else 0.0
            if t == T - 1 and not own_last:  # the loop starts from the carried gradient alone (zeros)
                own = 0.0
            dh_t = own + (carried if carry else 0.0)
            if t == 0:
                dh_first = dh_t
            da = dh_t * dact[:, t]
            h_prev = h0 if t == 0 else h[:, t - 1]
            if dw_h_from == "h_t":
                h_prev = h[:, t]
            dx[:, t] = da @ w_x.T
            if sum_over_time:
                dw_x, dw_h, db = dw_x + x[:, t].T @ da, dw_h + h_prev.T @ da, db + da.sum(axis=0)
            else:  # overwritten at every step: only step 1's contribution is left
                dw_x, dw_h, db = x[:, t].T @ da, h_prev.T @ da, da.sum(axis=0)
            carried = da @ w_h.T
        if dh0 == "dropped":
            carried = np.zeros_like(h0)
        elif dh0 == "at h_1":
            carried = dh_first
        if layout == "TND":
            dx = dx.transpose(1, 0, 2)
        if dx_order == "reversed":  # appended while walking backwards, never put back in time order
            dx = dx[:, ::-1].copy()
        return dx, carried, dw_x, dw_h, db

    return backward


# -- clipping ----------------------------------------------------------------------------------------


#: Other names for the five gradients: clip_grad_norm's statement promises any keys, not only this chapter's.
OTHER_KEYS = ("W_in", "W_rec", "bias", "W_out", "bias_out")


def clip_reference(max_norm, *arrays_and_keys):
    *arrays, keys = arrays_and_keys
    clipped, total = rnn.clip_grad_norm(dict(zip(keys, arrays)), max_norm)
    return (*(clipped[k] for k in keys), total)


def clip_answer(grads, max_norm):
    return rnn.clip_grad_norm(grads, max_norm)


def _require_new_arrays(result, given, name):
    for k in given:
        if isinstance(result.get(k), np.ndarray) and np.shares_memory(result[k], given[k]):
            raise ReturnedItsInput(
                f"{name} returned grads[{k!r}] itself (or a view of it) as clipped[{k!r}]: return new arrays, "
                f"even when nothing needs scaling, so that changing the clipped gradients cannot change the given ones."
            )


def run_clip(function, forward, max_norm, *arrays_and_keys):
    *arrays, keys = arrays_and_keys
    grads = dict(zip(keys, arrays))
    given, before = dict(grads), [a.copy() for a in arrays]
    clipped, total = _pair(function(grads, max_norm), "clip_grad_norm", "(clipped, total_norm)")
    if set(grads) != set(given) or any(grads[k] is not given[k] for k in given):
        raise ReturnedItsInput("clip_grad_norm changed the dict it was given: build a new dict and leave grads as it was.")
    values = _unpack(clipped, "clip_grad_norm", "the clipped gradients as a new dict", keys)
    if all(np.array_equal(b, a, equal_nan=True) for b, a in zip(before, arrays)):
        # (an array scaled in place is reported by the check as a modified input, which says more)
        _require_new_arrays(clipped, given, "clip_grad_norm")
    return (*values, total)


def _clip_mistake(kind):
    def clip(grads, max_norm):
        norms = {k: float(np.sqrt(np.sum(np.square(g, dtype=np.float64)))) for k, g in grads.items()}
        total = float(np.sqrt(sum(n * n for n in norms.values())))
        if kind == "per tensor":
            return {k: g * g.dtype.type(min(1.0, max_norm / norms[k]) if norms[k] > 0 else 1.0) for k, g in grads.items()}, total
        if kind == "sum of norms":
            total = sum(norms.values())
        if kind == "max abs":
            total = float(max(np.abs(g).max() for g in grads.values()))
        if kind == "inverted":
            scale = max_norm / total if total < max_norm else 1.0
            return {k: g * g.dtype.type(scale) for k, g in grads.items()}, total
        if kind == "by value":
            return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, total
        if kind == "always":
            scale = max_norm / total
        elif kind == "epsilon":  # PyTorch's clip_grad_norm_: max_norm / (total + 1e-6)
            scale = min(1.0, max_norm / (total + 1e-6))
        else:
            scale = min(1.0, max_norm / total)
        clipped = {k: g * g.dtype.type(scale) for k, g in grads.items()}
        if kind == "norm after":
            total = min(total, max_norm)
        return clipped, total

    return clip


def clip_cases():
    shapes = lambda d, h, m: [(d, h), (h, h), (h,), (h, m), (m,)]  # noqa: E731

    def draw(d, h, m, *, scale=1.0, max_norm=None, dtype=np.float64, tiny=False, keys=KEYS):
        def inputs(rng):
            arrays = [scale * rng.standard_normal(s) for s in shapes(d, h, m)]
            if tiny:
                arrays[1] = 1e-3 * arrays[1]
            total = np.sqrt(sum(np.sum(a * a) for a in arrays))
            limit = float(total * rng.uniform(0.1, 0.5)) if max_norm is None else max_norm
            return (limit, *(a.astype(dtype) for a in arrays), keys)

        return inputs

    return (
        Case("a norm above max_norm (the gradients are scaled down), D = 1, H = 4, M = 1", draw(1, 4, 1)),
        Case("a norm below max_norm = 1000 (nothing is scaled, but new arrays come back)", draw(2, 3, 1, max_norm=1000.0)),
        Case("one tensor far smaller than the others, D = 2, H = 5, M = 2", draw(2, 5, 2, tiny=True)),
        Case("huge gradients (an explosion), max_norm = 1", draw(1, 3, 1, scale=1e6, max_norm=1.0)),
        Case("float32 gradients above max_norm", draw(2, 4, 1, dtype=np.float32)),
        Case("small gradients (a global norm of about 0.01) above max_norm, D = 2, H = 3, M = 1",
             draw(2, 3, 1, scale=0.002)),
        Case(f"other keys ({', '.join(OTHER_KEYS)}, in place of {', '.join(KEYS)}), a norm above max_norm",
             draw(2, 3, 2, keys=OTHER_KEYS)),
        Case("a norm above max_norm, D = 3, H = 8, M = 2", draw(3, 8, 2), hidden=True),
        Case("float32 gradients below max_norm = 1000", draw(1, 5, 3, dtype=np.float32, max_norm=1000.0), hidden=True),
        Case("huge gradients, one tensor tiny, max_norm = 0.5", draw(2, 3, 1, scale=1e4, max_norm=0.5, tiny=True), hidden=True),
        Case("small gradients (a global norm of about 0.01) above max_norm, D = 1, H = 4, M = 2",
             draw(1, 4, 2, scale=0.002), hidden=True),
        Case(f"other keys ({', '.join(OTHER_KEYS)}), float32 gradients below max_norm = 1000",
             draw(1, 3, 1, dtype=np.float32, max_norm=1000.0, keys=OTHER_KEYS), hidden=True),
    )


# -- truncated BPTT ----------------------------------------------------------------------------------

def regression_loss_reference(params, x, target, h0):
    """``nnlib.rnn.rnn_regression_loss`` (tanh) written with this module's forward and BPTT, so that the
    checks need none of the functions this chapter asks for (the grader's sandbox stubs them all)."""
    h, cache = sequence_forward_reference(x, h0, params["w_x"], params["w_h"], params["b"], "tanh")  # (N, T, H)
    N, T, H = h.shape
    pred = h @ params["w_y"] + params["b_y"]  # (N, T, M)
    diff = pred - target
    loss = float(np.mean(diff * diff))
    dpred = 2 * diff / diff.size
    _, _, dw_x, dw_h, db = _bptt_mistake()(dpred @ params["w_y"].T, cache)  # (no change: the right BPTT)
    grads = {"w_x": dw_x, "w_h": dw_h, "b": db, "w_y": h.reshape(N * T, H).T @ dpred.reshape(N * T, -1),
             "b_y": dpred.sum(axis=(0, 1))}
    return loss, grads, h[:, -1]


def clip_dict_reference(grads, max_norm):
    """``nnlib.rnn.clip_grad_norm`` in pure numpy (the grader's sandbox stubs nnlib's)."""
    total = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    scale = max_norm / total if total > max_norm else 1.0
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, total


#: The loss and the clipping a check gives a student's train_tbptt, called by the check's doing.
GIVEN_LOSS_FN = trusted(regression_loss_reference)
GIVEN_CLIP = trusted(clip_dict_reference)


def _tbptt(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm, *, clip=clip_dict_reference,
           reset_each_chunk=False, reset_each_epoch=True, drop_partial=False, record_after=False, clipping=True):
    """Truncated BPTT, right or with one step changed."""
    N, T, _ = x.shape
    H = params["w_h"].shape[0]
    losses = []
    h = np.zeros((N, H), dtype=x.dtype)
    for _ in range(num_epochs):
        if reset_each_epoch:
            h = np.zeros((N, H), dtype=x.dtype)
        stop = T - T % chunk if drop_partial else T
        for start in range(0, stop, chunk):
            h_start = np.zeros((N, H), dtype=x.dtype) if reset_each_chunk else h
            loss, grads, h = loss_fn(params, x[:, start:start + chunk], target[:, start:start + chunk], h_start)
            if max_norm is not None and clipping:
                grads, _ = clip(grads, max_norm)
            params = {k: params[k] - lr * grads[k] for k in params}
            losses.append(loss_fn(params, x[:, start:start + chunk], target[:, start:start + chunk], h_start)[0]
                          if record_after else loss)
    return params, losses


def train_tbptt_answer(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm=None, clip=None):
    """nnlib's truncated BPTT in the notebook's signature (options by position; nnlib clips with its own
    clip_grad_norm, the same function as any right ``clip``)."""
    return rnn.train_tbptt(loss_fn, params, x, target, lr=lr, chunk=chunk, num_epochs=num_epochs, max_norm=max_norm)


def _params(rng, d, h, m, rho=0.9):
    q, _ = np.linalg.qr(rng.standard_normal((h, h)))
    return (0.5 * rng.standard_normal((d, h)), rho * q, np.zeros(h), rng.standard_normal((h, m)) / np.sqrt(h), np.zeros(m))


def run_train_tbptt(function, forward, x, target, lr, chunk, num_epochs, max_norm, *arrays):
    params = dict(zip(KEYS, arrays))
    given = dict(params)
    # The check's own clipping goes in as `clip`, so that a wrong clip_grad_norm costs points in its own
    # exercise only (blame lands on the right function); a signature without `clip` is called without it.
    try:
        result = function(GIVEN_LOSS_FN, params, x, target, lr, chunk, num_epochs, max_norm, clip=GIVEN_CLIP)
    except TypeError as error:
        if "unexpected keyword argument 'clip'" not in str(error):
            raise
        result = function(GIVEN_LOSS_FN, params, x, target, lr, chunk, num_epochs, max_norm)
    new, losses = _pair(result, "train_tbptt", "(params, losses)")
    if set(params) != set(given) or any(params[k] is not given[k] for k in given):
        raise ReturnedItsInput("train_tbptt changed the dict of parameters it was given: build new dicts.")
    try:
        losses = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"train_tbptt should return the losses as a list of numbers, got {_describe(losses)}.")
    return (*_unpack(new, "train_tbptt", "the new params as a dict"), losses)


def train_tbptt_flat(x, target, lr, chunk, num_epochs, max_norm, *arrays):
    new, losses = train_tbptt_answer(regression_loss_reference, dict(zip(KEYS, arrays)), x, target, lr, chunk, num_epochs,
                                     max_norm)
    return (*(new[k] for k in KEYS), np.asarray(losses, dtype=np.float64))


def tbptt_cases():
    def draw(n, t, d, h, m, chunk, epochs, max_norm, lr=None):
        def inputs(rng):
            x, target = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, m))
            rate = float(rng.uniform(0.05, 0.3)) if lr is None else lr
            return (x, target, rate, chunk, epochs, max_norm, *_params(rng, d, h, m))

        return inputs

    return (
        Case("T = 12 in chunks of 4, 2 epochs, no clipping (max_norm None)", draw(3, 12, 2, 4, 1, 4, 2, None)),
        Case("T = 10 in chunks of 4 (a last chunk of 2), 1 epoch, no clipping", draw(2, 10, 1, 3, 1, 4, 1, None)),
        Case("T = 9 in chunks of 3, 3 epochs, clipping at max_norm = 0.05", draw(4, 9, 2, 5, 2, 3, 3, 0.05)),
        Case("one chunk holding the whole sequence (T = 6, chunk 6), 2 epochs", draw(2, 6, 1, 4, 1, 6, 2, None)),
        Case("T = 8 in chunks of 3, 1 epoch, max_norm = 1000 (never reached: nothing is scaled)",
             draw(2, 8, 2, 3, 1, 3, 1, 1000.0)),
        Case("T = 14 in chunks of 5, 2 epochs, max_norm = 0.02", draw(3, 14, 2, 6, 1, 5, 2, 0.02), hidden=True),
        Case("T = 8 in chunks of 1, 2 epochs, no clipping", draw(2, 8, 1, 3, 1, 1, 2, None), hidden=True),
        Case("T = 12 in chunks of 4, 3 epochs, max_norm = 1000 (never reached)", draw(3, 12, 3, 4, 2, 4, 3, 1000.0), hidden=True),
    )


# -- the synthesis: held-out noisy sine waves --------------------------------------------------------


def sine_data(train_seed, heldout_seed):
    """(x, target, x_heldout, target_heldout), each of shape (64, 60, 1): fixed, whatever the check's seed."""
    n, t = SINE_SHAPE
    from nnlib import data

    x, y = data.noisy_sine(n, t, rng=np.random.default_rng(train_seed), noise=SINE_NOISE)
    xv, yv = data.noisy_sine(n, t, rng=np.random.default_rng(heldout_seed), noise=SINE_NOISE)
    return x, y, xv, yv


def heldout_mse(params, x, target):
    """The mean squared error of ``params``'s one-step predictions, each sequence run from h = 0."""
    H = np.shape(params["w_h"])[0]
    w_x, w_h, b, w_y, b_y = (np.asarray(params[k], dtype=np.float64) for k in KEYS)
    N, T, D = x.shape
    if w_x.shape != (D, H) or w_h.shape != (H, H) or b.shape != (H,) or w_y.shape != (H, target.shape[2]) \
            or b_y.shape != (target.shape[2],):
        raise ValueError(f"the shapes {[np.shape(params[k]) for k in KEYS]} of {', '.join(KEYS)} do not make a network "
                         f"from {D} input to {target.shape[2]} output with H = {H} hidden units")
    with np.errstate(all="ignore"):
        h, _ = sequence_forward_reference(x, np.zeros((N, H)), w_x, w_h, b, "tanh")
        loss = float(np.mean((h @ w_y + b_y - target) ** 2))
    return loss if np.isfinite(loss) else np.inf


#: Whether the check engine judges a result on the trusted side (``Exercise.judged``): then what fit_sine's
#: record holds is the trained parameters, and the held-out error is computed outside the student's process.
JUDGED_OUTSIDE = "judged" in {f.name for f in dataclasses.fields(Exercise)}

#: The largest network whose held-out error the check computes (a bound on the trusted side's work).
MAX_HIDDEN = 256


def run_fit_sine(function, forward, x, target, x_heldout, target_heldout, seed):
    """The student's side: train with ``fit_sine`` and return the five parameter arrays (or, with an engine
    that cannot judge outside, their held-out error)."""
    params = function(x, target, np.random.default_rng(seed))
    arrays = _unpack(params, "fit_sine", "the trained params as a dict")
    for k, a in zip(KEYS, arrays):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"fit_sine should return arrays, got {_describe(a)} for params[{k!r}].")
    if JUDGED_OUTSIDE:
        return arrays
    return judge_fit_sine(arrays, x, target, x_heldout, target_heldout, seed)


def judge_fit_sine(outputs, x, target, x_heldout, target_heldout, seed):
    """The trusted side: the held-out mean squared error of the parameters fit_sine returned, computed from
    the catalogue's own held-out waves. What is graded is the threshold: any error at or below it counts as
    the threshold itself."""
    if not isinstance(outputs, (tuple, list)) or len(outputs) != len(KEYS) or not all(
            isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in outputs):
        raise TypeError(f"fit_sine should return a dict of real arrays with the keys {', '.join(KEYS)}.")
    params = dict(zip(KEYS, outputs))
    if params["w_h"].ndim != 2 or not 1 <= params["w_h"].shape[0] <= MAX_HIDDEN:
        raise ValueError(f"fit_sine's w_h should have shape (H, H) with 1 <= H <= {MAX_HIDDEN}, "
                         f"got {params['w_h'].shape}.")
    try:
        loss = heldout_mse(params, x_heldout, target_heldout)
    except ValueError as error:
        raise TypeError(f"fit_sine's params do not fit a network on these waves: {error}")
    return (max(float(loss), SINE_THRESHOLD),)


def sine_threshold_reference(*args):
    return (SINE_THRESHOLD,)


def fit_sine_with(*, lr=0.5, chunk=20, num_epochs=40, max_norm=0.5, hidden=16, rho=0.9, memory=True, trained=True):
    """A fit_sine built on nnlib: nnlib's answer, and its mistakes (one setting changed)."""

    def fit(x, target, rng):
        params = dict(zip(KEYS, _params(rng, x.shape[2], hidden, target.shape[2], rho=rho if memory else 0.0)))
        if not trained:
            return params
        loss_fn = rnn.rnn_regression_loss
        if not memory:  # w_h held at 0: a network without recurrence
            def loss_fn(p, xs, ts, h0):
                loss, grads, h = rnn.rnn_regression_loss(p, xs, ts, h0)
                return loss, {**grads, "w_h": np.zeros_like(grads["w_h"])}, h
        with np.errstate(all="ignore"):
            return _tbptt(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm)[0]

    return fit


def sine_cases():
    return (
        Case("64 noisy sine waves of 60 steps, held-out waves of the same kind (fixed data, seed 0)",
             lambda rng: (*sine_data(1, 2), 0)),
        Case("other fixed waves and seed (training data 3, held-out data 4, seed 5)",
             lambda rng: (*sine_data(3, 4), 5), hidden=True),
    )


# -- the catalogue -----------------------------------------------------------------------------------

EXERCISES = (
    Exercise(
        "rnn_step_forward",
        lambda *args: (step_forward_answer(*args)[0],),
        step_cases(with_dout=False),
        solution=step_forward_answer,
        outputs=("h",),
        run=_first("rnn_step_forward", "(h, cache)"),
        arg_names=("x", "h_prev", "w_x", "w_h", "b", "activation"),
        mistakes=(
            Mistake("the activation argument is ignored: activation='sigmoid' asks for the seed's sigma, not tanh",
                    lambda x, hp, wx, wh, b, activation="tanh": (np.tanh(hp @ wh + x @ wx + b), None)),
            Mistake("the bias b is missing from the pre-activation",
                    lambda x, hp, wx, wh, b, activation="tanh": (_act(activation)(hp @ wh + x @ wx), None)),
            Mistake("w_h is transposed: with examples as rows the step is h_prev @ w_h (the seed's W_h h is its transpose)",
                    lambda x, hp, wx, wh, b, activation="tanh": (_act(activation)(hp @ wh.T + x @ wx + b), None)),
            Mistake("the activation is missing: h = act(a), not the pre-activation a",
                    lambda x, hp, wx, wh, b, activation="tanh": (hp @ wh + x @ wx + b, None)),
        ),
    ),
    Exercise(
        "rnn_step_backward",
        step_backward_expected,
        step_cases(with_dout=True),
        solution=rnn.rnn_step_backward,
        outputs=("dx", "dh_prev", "dw_x", "dw_h", "db"),
        run=run_step_backward,
        forward="rnn_step_forward",
        forward_reference=step_forward_reference,
        numerical=step_numerical,
        arg_names=("x", "h_prev", "w_x", "w_h", "b", "activation", "dout"),
        mistakes=(
            Mistake(AT_THE_OUTPUT, _step_mistake(derivative="at the output")),
            Mistake(FORMULA_AT_A, _step_mistake(derivative="output formula at a")),
            Mistake("the activation's derivative is missing: dout reaches the pre-activation a through act'(a)",
                    _step_mistake(derivative="none")),
            Mistake("dh_prev is missing w_h: h_prev reaches a through h_prev @ w_h",
                    _step_mistake(carry_weights=False)),
            Mistake("dw_h is transposed: it has the shape of w_h, (H_prev, H), so h_prev.T comes first",
                    _step_mistake(dw_h_transposed=True)),
            Mistake("db is not summed over the batch: b is shared by every example",
                    _step_mistake(db_summed=False)),
            Mistake("dw_h is computed with the step's output h: w_h multiplies the step's input h_prev, so dw_h = "
                    "(what reaches a) weighted by h_prev", _step_mistake(dw_h_from="h")),
        ),
    ),
    Exercise(
        "rnn_forward",
        lambda *args: (forward_answer(*args)[0],),
        sequence_cases(with_dout=False),
        solution=forward_answer,
        outputs=("h",),
        run=_first("rnn_forward", "(h, cache)"),
        arg_names=("x", "h0", "w_x", "w_h", "b", "activation"),
        mistakes=(
            Mistake("the states come back as (T, N, H): h[:, t] must be the state of every sequence after step t + 1, "
                    "so stack along axis 1", _forward_mistake(layout="TNH")),
            Mistake("the state is not carried: every step starts again from h0 instead of the previous step's state",
                    _forward_mistake(carry=False)),
            Mistake("x is read time-first: x[t] is the whole sequence number t, and step t of every sequence is "
                    "x[:, t] (x is (N, T, D); with N = T both fit)", _forward_mistake(read="x[t]")),
            Mistake("h0 is ignored: the first step starts from the given h0, not from zeros",
                    _forward_mistake(from_h0=False)),
            Mistake("h0 is returned with the states: h holds the T states after each step, not T + 1",
                    _forward_mistake(with_h0=True)),
        ),
    ),
    Exercise(
        "rnn_backward",
        backward_expected,
        sequence_cases(with_dout=True),
        solution=rnn.rnn_backward,
        outputs=("dx", "dh0", "dw_x", "dw_h", "db"),
        run=run_backward,
        forward="rnn_forward",
        forward_reference=sequence_forward_reference,
        numerical=sequence_numerical,
        arg_names=("x", "h0", "w_x", "w_h", "b", "activation", "dout"),
        mistakes=(
            Mistake("the weight gradients are not summed over time (only one step's contribution is left): "
                    "w_x, w_h and b are shared by every step, so add each step's gradient", _bptt_mistake(sum_over_time=False)),
            Mistake("the hidden-state gradient is not carried back: h_{t-1} also feeds step t, so its gradient is "
                    "dout[:, t-1] plus what comes back from step t", _bptt_mistake(carry=False)),
            Mistake("the gradient carried back from step t+1 replaces the step's own gradient dout[:, t] instead of "
                    "being added to it", _bptt_mistake(own_gradient=False)),
            Mistake(AT_THE_OUTPUT, _bptt_mistake(derivative="at the output")),
            Mistake(FORMULA_AT_A, _bptt_mistake(derivative="output formula at a")),
            Mistake("dx comes back as (T, N, D): it has the layout of x, (N, T, D)", _bptt_mistake(layout="TND")),
            Mistake("dx is in reverse time order: the backward walk meets step T first, but dx[:, t] belongs to x[:, t]",
                    _bptt_mistake(dx_order="reversed")),
            Mistake("the last step's own gradient dout[:, T-1] is dropped: nothing comes back from after the last step, "
                    "but the loss may use the last state directly", _bptt_mistake(own_last=False)),
            Mistake("the gradient of h0 is dropped: h0 feeds step 1, so it gets what step 1 passes back",
                    _bptt_mistake(dh0="dropped")),
            Mistake("dh0 is the gradient reaching h_1: pass it back through step 1 (act' and w_h) to reach h0",
                    _bptt_mistake(dh0="at h_1")),
            Mistake("dw_h is summed with h_t instead of h_{t-1}: step t multiplies w_h by the state it starts from",
                    _bptt_mistake(dw_h_from="h_t")),
        ),
    ),
    Exercise(
        "clip_grad_norm",
        clip_reference,
        clip_cases(),
        solution=clip_answer,
        outputs=tuple(f"clipped[{k!r}]" for k in KEYS) + ("total_norm",),
        run=run_clip,
        arg_names=("max_norm",) + tuple(f"grads[{k!r}]" for k in KEYS) + ("the keys of grads",),
        mistakes=(
            Mistake("each tensor is clipped on its own: the norm to cap is the global one, of all gradients together, "
                    "and every tensor is scaled by the same factor", _clip_mistake("per tensor")),
            Mistake("the total norm is the sum of the tensors' norms: it is the square root of the sum of all squares",
                    _clip_mistake("sum of norms")),
            Mistake("the gradients are scaled even when their norm is below max_norm: clipping only ever shrinks",
                    _clip_mistake("always")),
            Mistake("each element is clipped to [-max_norm, max_norm] (clipping by value): scale the whole gradient instead, "
                    "keeping its direction", _clip_mistake("by value")),
            Mistake("total_norm is the norm after clipping: return the norm the gradients had before",
                    _clip_mistake("norm after")),
            Mistake("the norm is the largest absolute value of all elements: it is the Euclidean norm, the square root "
                    "of the sum of all squares", _clip_mistake("max abs")),
            Mistake("the condition is the wrong way round: scale only when the norm is above max_norm, and leave the "
                    "gradients as they are below it", _clip_mistake("inverted")),
            Mistake("the scale has an epsilon in its denominator, max_norm / (total_norm + 1e-6) as in PyTorch: the "
                    "combined norm must become exactly max_norm (and a norm above max_norm > 0 is never 0)",
                    _clip_mistake("epsilon")),
        ),
    ),
    Exercise(
        "train_tbptt",
        train_tbptt_flat,
        tbptt_cases(),
        solution=train_tbptt_answer,
        outputs=KEYS + ("losses",),
        run=run_train_tbptt,
        arg_names=("x", "target", "lr", "chunk", "num_epochs", "max_norm") + tuple(f"params[{k!r}]" for k in KEYS),
        mistakes=(
            Mistake("the state is reset to zero at every chunk: truncated BPTT carries the state's value on to the next "
                    "chunk (only its gradient is cut)", lambda *a, **k: _tbptt(*a, **k, reset_each_chunk=True)),
            Mistake("the state is not reset at the start of an epoch: each pass over the sequences starts again from h = 0",
                    lambda *a, **k: _tbptt(*a, **k, reset_each_epoch=False)),
            Mistake("the last, shorter chunk is dropped: range(0, T, chunk) covers every step",
                    lambda *a, **k: _tbptt(*a, **k, drop_partial=True)),
            Mistake("the gradients are not clipped: clip them with your clip_grad_norm when max_norm is not None",
                    lambda *a, **k: _tbptt(*a, **k, clipping=False)),
            Mistake("each loss is recorded after the update: record the loss loss_fn returned, before updating params",
                    lambda *a, **k: _tbptt(*a, **k, record_after=True)),
            Mistake("the gradients are clipped tensor by tensor, not by their global norm: clip with `clip`, the function "
                    "train_tbptt is given (your clip_grad_norm when it is None), and check clip_grad_norm on its own",
                    lambda *a, **k: _tbptt(*a, **{**k, "clip": _clip_mistake("per tensor")})),
        ),
    ),
    Exercise(
        "fit_sine",
        sine_threshold_reference,
        sine_cases(),
        solution=fit_sine_with(),
        outputs=("the held-out mean squared error (counted as the threshold when below it)",),
        run=run_fit_sine,
        **({"judged": judge_fit_sine} if JUDGED_OUTSIDE else {}),
        arg_names=("x", "target", "x_heldout", "target_heldout", "seed"),
        mistakes=(
            Mistake("the parameters come back untrained: train them with your train_tbptt before returning them",
                    fit_sine_with(trained=False)),
            Mistake("the training diverged (its loss is inf or NaN): with this learning rate the gradients explode "
                    "unless they are clipped", fit_sine_with(lr=1.0, max_norm=None)),
            Mistake("the network has no memory (w_h held at 0): one noisy value does not tell where the wave goes next",
                    fit_sine_with(memory=False)),
        ),
    ),
)

#: The nnlib functions this chapter asks students to write themselves (earlier chapters' activations,
#: losses and dense layers stay free to use).
FORBIDDEN = (
    rnn.rnn_step_forward,
    rnn.rnn_step_backward,
    rnn.rnn_forward,
    rnn.rnn_backward,
    rnn.clip_grad_norm,
    rnn.train_tbptt,
)

CATALOGUE = Catalogue("06_rnn", EXERCISES, forbidden=FORBIDDEN)
check, grade = CATALOGUE.bind()
