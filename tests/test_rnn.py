"""Tests of nnlib.rnn: recurrent step, sequence forward, BPTT, gradient clipping."""

import numpy as np
import pytest

from nnlib import activations
from nnlib.gradcheck import check_backward, check_gradient, rel_error
from nnlib.rnn import (
    clip_grad_norm,
    rnn_backward,
    rnn_forward,
    rnn_regression_loss,
    rnn_step_backward,
    rnn_step_forward,
    train_tbptt,
)
from nnlib.tolerances import FLOAT32_RTOL, MATCH_RTOL

ACTIVATIONS = ["tanh", "sigmoid"]


def make_inputs(rng, N=3, T=4, D=5, H=6, scale=0.5, dtype=np.float64):
    return {
        "x": rng.standard_normal((N, T, D)).astype(dtype),
        "h0": rng.standard_normal((N, H)).astype(dtype),
        "w_x": (scale * rng.standard_normal((D, H))).astype(dtype),
        "w_h": (scale * rng.standard_normal((H, H))).astype(dtype),
        "b": rng.standard_normal(H).astype(dtype),
    }


def step_inputs(rng, N=3, D=5, H=6):
    seq = make_inputs(rng, N=N, T=1, D=D, H=H)
    return {"x": seq["x"][:, 0], "h_prev": seq["h0"], "w_x": seq["w_x"], "w_h": seq["w_h"], "b": seq["b"]}


# ---------------------------------------------------------------- forward values


def test_step_hand_example():
    # Two hidden units, one input: a = h_prev @ w_h + x @ w_x + b, computed by hand.
    x = np.array([[2.0]])
    h_prev = np.array([[1.0, -1.0]])
    w_x = np.array([[0.5, -0.25]])
    w_h = np.array([[1.0, 0.0], [2.0, 1.0]])
    b = np.array([0.1, 0.2])
    # h_prev @ w_h = [1 - 2, 0 - 1] = [-1, -1];  x @ w_x = [1, -0.5];  a = [0.1, -1.3]
    h, _ = rnn_step_forward(x, h_prev, w_x, w_h, b)
    np.testing.assert_allclose(h, np.tanh([[0.1, -1.3]]), rtol=MATCH_RTOL, strict=True)
    h, _ = rnn_step_forward(x, h_prev, w_x, w_h, b, activation="sigmoid")
    np.testing.assert_allclose(h, 1 / (1 + np.exp(-np.array([[0.1, -1.3]]))), rtol=MATCH_RTOL, strict=True)


def test_step_matches_the_seeds_column_form():
    # The seed's h_t = sigma(W_h h_{t-1} + W_x x_t + b) with column vectors, W = w.T.
    p = step_inputs(np.random.default_rng(0), N=1)
    W_h, W_x = p["w_h"].T, p["w_x"].T
    column = activations.sigmoid(W_h @ p["h_prev"][0] + W_x @ p["x"][0] + p["b"])
    h, _ = rnn_step_forward(**p, activation="sigmoid")
    assert rel_error(column, h[0]) < MATCH_RTOL


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_sequence_forward_equals_repeated_steps(activation):
    p = make_inputs(np.random.default_rng(1))
    h, _ = rnn_forward(**p, activation=activation)
    state = p["h0"]
    for t in range(p["x"].shape[1]):
        state, _ = rnn_step_forward(p["x"][:, t], state, p["w_x"], p["w_h"], p["b"], activation=activation)
        assert rel_error(state, h[:, t]) < MATCH_RTOL


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bptt_equals_repeated_step_backward(activation):
    rng = np.random.default_rng(2)
    p = make_inputs(rng)
    N, T, D = p["x"].shape
    h, cache = rnn_forward(**p, activation=activation)
    dh = rng.standard_normal(h.shape)
    dx, dh0, dw_x, dw_h, db = rnn_backward(dh, cache)

    caches, state = [], p["h0"]
    for t in range(T):
        state, c = rnn_step_forward(p["x"][:, t], state, p["w_x"], p["w_h"], p["b"], activation=activation)
        caches.append(c)
    carried = np.zeros_like(p["h0"])
    sums = [np.zeros_like(p["w_x"]), np.zeros_like(p["w_h"]), np.zeros_like(p["b"])]
    for t in reversed(range(T)):
        dxt, carried, *dparams = rnn_step_backward(dh[:, t] + carried, caches[t])
        assert rel_error(dxt, dx[:, t]) < MATCH_RTOL
        sums = [s + g for s, g in zip(sums, dparams)]
    assert rel_error(carried, dh0) < MATCH_RTOL
    for expected, actual in zip(sums, (dw_x, dw_h, db)):
        assert rel_error(expected, actual) < MATCH_RTOL


# ---------------------------------------------------------------- gradient checks


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_gradient_check(activation):
    p = step_inputs(np.random.default_rng(3))
    check_backward(
        lambda *args: rnn_step_forward(*args, activation=activation),
        rnn_step_backward,
        p,
        name=f"rnn_step ({activation})",
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bptt_gradient_check_with_upstream_gradient_on_every_step(activation):
    # check_backward draws a random dout for the whole (N, T, H) output: every step gets a gradient,
    # and the check covers dh0 and all three shared parameters.
    p = make_inputs(np.random.default_rng(4), N=2, T=5, D=3, H=4)
    errors = check_backward(
        lambda *args: rnn_forward(*args, activation=activation),
        rnn_backward,
        p,
        name=f"rnn ({activation})",
    )
    assert set(errors) == {"x", "h0", "w_x", "w_h", "b"}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bptt_gradient_check_loss_on_last_step_only(activation):
    # The usual many-to-one case: all the gradient has to travel back through the recurrence.
    rng = np.random.default_rng(5)
    p = make_inputs(rng, N=2, T=4, D=3, H=4, scale=1.0)
    h, cache = rnn_forward(**p, activation=activation)
    weights = rng.standard_normal(h.shape[::2])  # (N, H)
    dh = np.zeros_like(h)
    dh[:, -1] = weights
    grads = dict(zip(p, rnn_backward(dh, cache)))
    for name in p:
        def loss(v, name=name):
            args = dict(p, **{name: v})
            return np.sum(rnn_forward(**args, activation=activation)[0][:, -1] * weights)

        check_gradient(loss, p[name], grads[name], name=f"d/d{name}")


def test_fan_out_same_array_as_initial_state_and_every_input():
    # u feeds h0 and x_t at every step (D = H): its gradient is the sum of all those paths.
    rng = np.random.default_rng(6)
    N, T, H = 2, 4, 3
    p = make_inputs(rng, N=N, T=T, D=H, H=H)
    u = p["h0"]
    dout = rng.standard_normal((N, T, H))

    def forward(v):
        return rnn_forward(np.repeat(v[:, None, :], T, axis=1), v, p["w_x"], p["w_h"], p["b"])

    h, cache = forward(u)
    dx, dh0, *_ = rnn_backward(dout, cache)
    check_gradient(lambda v: np.sum(forward(v)[0] * dout), u, dh0 + dx.sum(axis=1), name="du")


# ---------------------------------------------------------------- shapes, dtypes, inputs


def test_shapes_of_every_output_and_gradient():
    N, T, D, H = 3, 7, 2, 5
    p = make_inputs(np.random.default_rng(7), N=N, T=T, D=D, H=H)
    h, cache = rnn_forward(**p)
    assert h.shape == (N, T, H)
    shapes = [g.shape for g in rnn_backward(np.ones_like(h), cache)]
    assert shapes == [(N, T, D), (N, H), (D, H), (H, H), (H,)]
    hs, cache = rnn_step_forward(p["x"][:, 0], p["h0"], p["w_x"], p["w_h"], p["b"])
    assert hs.shape == (N, H)
    assert [g.shape for g in rnn_step_backward(np.ones_like(hs), cache)] == [(N, D), (N, H), (D, H), (H, H), (H,)]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_is_preserved_and_close_to_float64(activation):
    rng = np.random.default_rng(8)
    p64 = make_inputs(rng)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    h32, cache32 = rnn_forward(**p32, activation=activation)
    h64, cache64 = rnn_forward(**p64, activation=activation)
    assert h32.dtype == np.float32
    assert rel_error(h64, h32) < FLOAT32_RTOL
    dh = rng.standard_normal(h64.shape)
    for g32, g64 in zip(rnn_backward(dh.astype(np.float32), cache32), rnn_backward(dh, cache64)):
        assert g32.dtype == np.float32
        assert rel_error(g64, g32) < FLOAT32_RTOL
    hs, cache = rnn_step_forward(p32["x"][:, 0], p32["h0"], p32["w_x"], p32["w_h"], p32["b"], activation=activation)
    assert hs.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_step_backward(np.ones_like(hs), cache))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(9)
    p = make_inputs(rng)
    copies = {k: v.copy() for k, v in p.items()}
    h, cache = rnn_forward(**p)
    dh = rng.standard_normal(h.shape)
    dh_copy = dh.copy()
    rnn_backward(dh, cache)
    rnn_step_backward(dh[:, 0], rnn_step_forward(p["x"][:, 0], p["h0"], p["w_x"], p["w_h"], p["b"])[1])
    for k in p:
        np.testing.assert_array_equal(p[k], copies[k])
    np.testing.assert_array_equal(dh, dh_copy)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "change, message",
    [
        ({"x": np.zeros((3, 5))}, r"x must have shape \(N, T, D\) \(3-D\), got shape \(3, 5\) \(2-D\)"),
        ({"w_x": np.zeros((4, 6))}, r"w_x must have shape \(5, 6\), got shape \(4, 6\)"),
        ({"w_h": np.zeros((6, 5))}, r"w_h must have shape \(6, 6\), got shape \(6, 5\)"),
        ({"b": np.zeros(5)}, r"b must have shape \(6,\), got shape \(5,\)"),
        ({"h0": np.zeros((2, 6))}, r"h0 must have shape \(3, 6\), got shape \(2, 6\)"),
        ({"x": np.zeros((3, 0, 5))}, r"at least one time step"),
    ],
)
def test_wrong_shapes_are_named(change, message):
    p = dict(make_inputs(np.random.default_rng(10)), **change)
    with pytest.raises(ValueError, match=message):
        rnn_forward(**p)


def test_step_and_backward_validation():
    p = step_inputs(np.random.default_rng(11))
    with pytest.raises(ValueError, match=r"h_prev must have shape \(3, 6\), got shape \(3, 5\)"):
        rnn_step_forward(p["x"], np.zeros((3, 5)), p["w_x"], p["w_h"], p["b"])
    with pytest.raises(ValueError, match=r"activation must be 'tanh' or 'sigmoid', got 'relu'"):
        rnn_step_forward(**p, activation="relu")
    h, cache = rnn_forward(**make_inputs(np.random.default_rng(11)))
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 4, 6\), got shape \(3, 6\)"):
        rnn_backward(h[:, 0], cache)


# ---------------------------------------------------------------- clipping


def test_clip_grad_norm_property():
    rng = np.random.default_rng(12)
    for max_norm in [0.1, 1.0, 5.0, 100.0]:
        grads = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4) * 3}
        copies = {k: v.copy() for k, v in grads.items()}
        clipped, norm = clip_grad_norm(grads, max_norm)
        flat = np.concatenate([g.ravel() for g in grads.values()])
        flat_clipped = np.concatenate([clipped[k].ravel() for k in grads])
        assert norm == pytest.approx(np.linalg.norm(flat), rel=MATCH_RTOL)
        assert np.linalg.norm(flat_clipped) == pytest.approx(min(norm, max_norm), rel=MATCH_RTOL)
        # same direction: a positive multiple of the original
        scale = np.linalg.norm(flat_clipped) / norm
        assert rel_error(scale * flat, flat_clipped) < MATCH_RTOL
        for k in grads:
            np.testing.assert_array_equal(grads[k], copies[k])
            assert clipped[k] is not grads[k]


def test_clip_grad_norm_keeps_dtype_and_rejects_bad_max_norm():
    clipped, norm = clip_grad_norm({"w": np.full(4, 10.0, dtype=np.float32)}, 2.0)
    assert clipped["w"].dtype == np.float32 and norm == 20.0
    np.testing.assert_allclose(clipped["w"], np.full(4, 1.0, dtype=np.float32), rtol=FLOAT32_RTOL, strict=True)
    with pytest.raises(ValueError, match="max_norm must be positive, got 0"):
        clip_grad_norm({"w": np.ones(2)}, 0)


# ---------------------------------------------------------------- vanishing gradient


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_vanishing_gradient_through_time(activation):
    # Small recurrent weights: the gradient of the last state with respect to h0 shrinks by a roughly
    # constant factor per step, so after 30 steps almost nothing of the loss reaches h0.
    rng = np.random.default_rng(13)
    N, D, H = 4, 3, 8
    w_x = 0.5 * rng.standard_normal((D, H))
    w_h = 0.2 * rng.standard_normal((H, H)) / np.sqrt(H)
    b = np.zeros(H)
    h0 = rng.standard_normal((N, H))
    norms = []
    for T in [1, 5, 10, 20, 30]:
        x = rng.standard_normal((N, T, D))
        h, cache = rnn_forward(x, h0, w_x, w_h, b, activation=activation)
        dh = np.zeros_like(h)
        dh[:, -1] = 1.0
        norms.append(np.linalg.norm(rnn_backward(dh, cache)[1]))
    assert all(later < earlier for earlier, later in zip(norms, norms[1:]))
    assert norms[-1] < 1e-12 * norms[0]


# ---------------------------------------------------------------- the API convention (nnlib/__init__.py)


def test_backwards_take_dout_and_cache_by_name():
    p = make_inputs(np.random.default_rng(14))
    h, cache = rnn_forward(**p)
    by_position = rnn_backward(np.ones_like(h), cache)
    by_name = rnn_backward(dout=np.ones_like(h), cache=cache)
    for a, b in zip(by_position, by_name):
        np.testing.assert_array_equal(a, b)
    hs, cache = rnn_step_forward(p["x"][:, 0], p["h0"], p["w_x"], p["w_h"], p["b"])
    assert len(rnn_step_backward(dout=np.ones_like(hs), cache=cache)) == 5


def test_activation_is_a_keyword_only_option_and_an_unknown_one_is_a_value_error():
    p = make_inputs(np.random.default_rng(15))
    with pytest.raises(TypeError):
        rnn_forward(p["x"], p["h0"], p["w_x"], p["w_h"], p["b"], "sigmoid")
    with pytest.raises(TypeError):
        rnn_step_forward(p["x"][:, 0], p["h0"], p["w_x"], p["w_h"], p["b"], "sigmoid")
    with pytest.raises(ValueError, match=r"activation must be 'tanh' or 'sigmoid', got 'relu'"):
        rnn_forward(**p, activation="relu")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_float64_dout_gives_gradients_in_the_dtype_of_the_float32_forward(activation):
    # The rule of every backward: the dtype of its forward's input, whatever the dtype of dout.
    rng = np.random.default_rng(16)
    p32 = {k: v.astype(np.float32) for k, v in make_inputs(rng).items()}
    h, cache = rnn_forward(**p32, activation=activation)
    dout64 = rng.standard_normal(h.shape)
    assert [g.dtype for g in rnn_backward(dout64, cache)] == [np.float32] * 5
    hs, cache = rnn_step_forward(p32["x"][:, 0], p32["h0"], p32["w_x"], p32["w_h"], p32["b"], activation=activation)
    assert [g.dtype for g in rnn_step_backward(rng.standard_normal(hs.shape), cache)] == [np.float32] * 5


def test_each_gradient_has_the_dtype_of_its_own_input_when_the_inputs_mix_dtypes():
    rng = np.random.default_rng(17)
    p = make_inputs(rng)
    p["x"] = p["x"].astype(np.float32)  # float32 data, float64 parameters
    h, cache = rnn_forward(**p)
    assert h.dtype == np.float64
    dtypes = [g.dtype for g in rnn_backward(np.ones_like(h), cache)]
    assert dtypes == [np.float32, np.float64, np.float64, np.float64, np.float64]


def test_changing_the_returned_states_does_not_change_the_gradients():
    # Values in, values out: h is the caller's, the cache is the backward's.
    rng = np.random.default_rng(18)
    p = make_inputs(rng)
    h, cache = rnn_forward(**p)
    dout = rng.standard_normal(h.shape)
    before = rnn_backward(dout, cache)
    h[...] = 0.0
    for a, b in zip(before, rnn_backward(dout, cache)):
        np.testing.assert_array_equal(a, b)


def test_clip_grad_norm_returns_new_arrays_even_when_nothing_is_scaled():
    grads = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    clipped, norm = clip_grad_norm(grads, max_norm=100.0)
    assert norm == 2.0 and clipped is not grads
    for k in grads:
        assert clipped[k] is not grads[k] and not np.shares_memory(clipped[k], grads[k])
        np.testing.assert_array_equal(clipped[k], grads[k])
    clipped["w"][0, 0] = 5.0
    assert grads["w"][0, 0] == 1.0


def test_clip_grad_norm_is_global_not_per_tensor():
    # Two tensors of norm 3 and 4: the global norm is 5, and both are scaled by the same 1/5.
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([0.0, 4.0])}
    clipped, norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0], rtol=MATCH_RTOL)
    np.testing.assert_allclose(clipped["b"], [0.0, 0.8], rtol=MATCH_RTOL)


def test_clip_grad_norm_rejects_what_is_not_a_dict():
    with pytest.raises(TypeError, match="grads must be a dict of str to ndarray, got list"):
        clip_grad_norm([np.ones(2)], 1.0)
    with pytest.raises(ValueError, match="max_norm must be positive, got -1"):
        clip_grad_norm({"w": np.ones(2)}, -1)


# ---------------------------------------------------------------- the regression model of the chapter's training


def regression_params(rng, D=2, H=4, M=1, scale=0.5):
    return {"w_x": scale * rng.standard_normal((D, H)), "w_h": scale * rng.standard_normal((H, H)),
            "b": 0.1 * rng.standard_normal(H), "w_y": scale * rng.standard_normal((H, M)), "b_y": 0.1 * rng.standard_normal(M)}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regression_loss_gradient_check(activation):
    rng = np.random.default_rng(19)
    params = regression_params(rng, M=2)
    x, target, h0 = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4))
    copies = {k: v.copy() for k, v in params.items()}
    loss, grads, h_last = rnn_regression_loss(params, x, target, h0, activation=activation)
    h, _ = rnn_forward(x, h0, params["w_x"], params["w_h"], params["b"], activation=activation)
    np.testing.assert_array_equal(h_last, h[:, -1])
    pred = h @ params["w_y"] + params["b_y"]
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=MATCH_RTOL)
    for name in params:
        def f(v, name=name):
            return rnn_regression_loss({**params, name: v}, x, target, h0, activation=activation)[0]

        check_gradient(f, params[name].copy(), grads[name], name=f"d/d{name}")
        np.testing.assert_array_equal(params[name], copies[name])
    assert set(grads) == set(params) and grads is not params


def test_regression_loss_names_a_wrong_params_dict_and_target():
    rng = np.random.default_rng(20)
    params = regression_params(rng)
    x, h0 = rng.standard_normal((3, 5, 2)), np.zeros((3, 4))
    with pytest.raises(ValueError, match="params must be a dict with the keys w_x, w_h, b, w_y, b_y"):
        rnn_regression_loss({k: params[k] for k in ("w_x", "w_h", "b")}, x, np.zeros((3, 5, 1)), h0)
    with pytest.raises(ValueError, match=r"target must have shape \(3, 5, 1\), got shape \(5, 3, 1\)"):
        rnn_regression_loss(params, x, np.zeros((5, 3, 1)), h0)


# ---------------------------------------------------------------- truncated BPTT


def test_tbptt_with_one_chunk_per_sequence_is_gradient_descent_on_the_whole_sequence():
    rng = np.random.default_rng(21)
    params = regression_params(rng)
    x, target = rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 6, 1))
    new, losses = train_tbptt(rnn_regression_loss, params, x, target, lr=0.1, chunk=6, num_epochs=2)
    expected, h0 = dict(params), np.zeros((3, 4))
    for step in range(2):
        loss, grads, _ = rnn_regression_loss(expected, x, target, h0)
        assert losses[step] == pytest.approx(loss, rel=MATCH_RTOL)
        expected = {k: expected[k] - 0.1 * grads[k] for k in expected}
    for k in params:
        np.testing.assert_allclose(new[k], expected[k], rtol=MATCH_RTOL)


def test_tbptt_carries_the_state_to_the_next_chunk_and_clips():
    rng = np.random.default_rng(22)
    params = regression_params(rng)
    x, target = rng.standard_normal((2, 7, 2)), rng.standard_normal((2, 7, 1))
    calls = []

    def spy(p, xs, ts, h0):
        calls.append((xs.shape[1], h0.copy()))
        loss, grads, h = rnn_regression_loss(p, xs, ts, h0)
        return loss, {k: 1e6 * g for k, g in grads.items()}, h

    new, losses = train_tbptt(spy, params, x, target, lr=1.0, chunk=3, num_epochs=1, max_norm=0.01)
    assert [c[0] for c in calls] == [3, 3, 1] and len(losses) == 3
    np.testing.assert_array_equal(calls[0][1], np.zeros((2, 4)))
    assert np.abs(calls[1][1]).max() > 0  # the state after the first chunk, not zeros
    step = np.sqrt(sum(np.sum((new[k] - params[k]) ** 2) for k in params))
    assert step <= 3 * 0.01 * (1 + 1e-9)  # three clipped steps of norm 0.01 at most


def test_tbptt_validates_its_options():
    params = regression_params(np.random.default_rng(23))
    x = np.zeros((2, 5, 2))
    with pytest.raises(ValueError, match="chunk must be an integer >= 1, got 0"):
        train_tbptt(rnn_regression_loss, params, x, x[..., :1], lr=0.1, chunk=0, num_epochs=1)
    with pytest.raises(ValueError, match="max_norm must be positive or None, got 0"):
        train_tbptt(rnn_regression_loss, params, x, x[..., :1], lr=0.1, chunk=2, num_epochs=1, max_norm=0)
