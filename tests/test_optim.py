"""Tests of nnlib.optim: hand-computed steps, known limits, purity, dtype, stability; the training loop."""

import inspect

import numpy as np
import pytest

from nnlib import optim
from nnlib.dense import two_layer_loss
from nnlib.gradcheck import check_gradient
from nnlib.tolerances import GRAD_RTOL

pytestmark = pytest.mark.ch03

STATEFUL = {
    "momentum": lambda w, dw, state, **kw: optim.momentum_step(w, dw, state, lr=0.1, **kw),
    "rmsprop": lambda w, dw, state, **kw: optim.rmsprop_step(w, dw, state, lr=0.01, **kw),
    "adam": lambda w, dw, state, **kw: optim.adam_step(w, dw, state, lr=0.01, **kw),
}


# ---------------------------------------------------------------- hand-computed steps


def test_sgd_hand_computed():
    np.testing.assert_allclose(optim.sgd_step(np.array([1.0, -2.0]), np.array([0.5, 4.0]), None, lr=0.1)[0], [0.95, -2.4])


def test_momentum_two_steps_hand_computed():
    w, state = optim.momentum_step(np.array([1.0]), np.array([2.0]), None, lr=0.1, beta=0.5)
    np.testing.assert_allclose(w, [0.8])  # v = 2, like an SGD step
    w, state = optim.momentum_step(w, np.array([-1.0]), state, lr=0.1, beta=0.5)
    np.testing.assert_allclose(state["velocity"], [0.0])  # 0.5 * 2 - 1
    np.testing.assert_allclose(w, [0.8])


def test_rmsprop_two_steps_hand_computed():
    w, state = optim.rmsprop_step(np.array([1.0]), np.array([2.0]), None, lr=0.1, decay=0.75, eps=0.0)
    np.testing.assert_allclose(state["sq_avg"], [1.0])  # 0.25 * 4
    np.testing.assert_allclose(w, [0.8])  # 1 - 0.1 * 2 / 1
    w, state = optim.rmsprop_step(w, np.array([4.0]), state, lr=0.1, decay=0.75, eps=0.0)
    np.testing.assert_allclose(state["sq_avg"], [4.75])  # 0.75 * 1 + 0.25 * 16
    np.testing.assert_allclose(w, [0.8 - 0.4 / np.sqrt(4.75)])


def test_adam_two_steps_hand_computed():
    w, state = optim.adam_step(np.array([1.0]), np.array([2.0]), None, lr=0.1, beta1=0.5, beta2=0.75, eps=0.0)
    assert state["t"] == 1
    np.testing.assert_allclose(w, [0.9])  # m_hat = 2, v_hat = 4
    w, state = optim.adam_step(w, np.array([4.0]), state, lr=0.1, beta1=0.5, beta2=0.75, eps=0.0)
    np.testing.assert_allclose(state["m"], [0.5 * 1 + 0.5 * 4])  # m_1 = 1
    np.testing.assert_allclose(state["v"], [0.75 * 1 + 0.25 * 16])  # v_1 = 1
    m_hat, v_hat = 2.5 / (1 - 0.5**2), 4.75 / (1 - 0.75**2)
    np.testing.assert_allclose(w, [0.9 - 0.1 * m_hat / np.sqrt(v_hat)])
    assert state["t"] == 2


# ---------------------------------------------------------------- behaviour


def test_adam_first_step_moves_each_weight_by_about_lr(rng):
    w = rng.standard_normal(1000)
    dw = rng.choice([-1, 1], 1000) * 10.0 ** rng.uniform(-3, 3, 1000)  # six orders of magnitude
    w_new, _ = optim.adam_step(w, dw, None, lr=0.01)
    # m_hat / sqrt(v_hat) = dw / |dw| exactly; eps / |dw| <= 1e-5 is the only deviation
    np.testing.assert_allclose(w_new - w, -0.01 * np.sign(dw), rtol=1e-4)


def test_adam_bias_correction_keeps_steps_at_lr_for_a_constant_gradient(rng):
    """With a constant gradient, the corrected m_hat and v_hat are exact at every step."""
    w, dw, state = np.zeros(5), rng.standard_normal(5), None
    for _ in range(20):
        w_new, state = optim.adam_step(w, dw, state, lr=0.01)
        np.testing.assert_allclose(w_new - w, -0.01 * np.sign(dw), rtol=1e-6)
        w = w_new
    assert state["t"] == 20


def test_momentum_velocity_approaches_gradient_over_one_minus_beta(rng):
    dw, state = rng.standard_normal(4), None
    w = np.zeros(4)
    for _ in range(300):
        w, state = optim.momentum_step(w, dw, state, lr=0.01, beta=0.9)
    np.testing.assert_allclose(state["velocity"], dw / (1 - 0.9), rtol=1e-12)


def test_rmsprop_normalises_the_step_size(rng):
    dw, state = 10.0 ** rng.uniform(-3, 3, 6), None
    w = np.zeros(6)
    for _ in range(3000):
        w_new, state = optim.rmsprop_step(w, dw, state, lr=0.01)
        w = w_new
    np.testing.assert_allclose(state["sq_avg"], dw**2, rtol=1e-9)
    w_next, _ = optim.rmsprop_step(w, dw, state, lr=0.01)
    np.testing.assert_allclose(w - w_next, 0.01, rtol=1e-4)


@pytest.mark.parametrize("name", ["sgd", *STATEFUL])
def test_minimises_an_ill_conditioned_quadratic(name):
    """f(w) = 0.5 * sum(a * w**2), minimum at 0; every optimiser must get there from w = 1."""
    a = np.array([1.0, 10.0])
    w, state = np.ones(2), None
    lr = {"sgd": 0.05, "momentum": 0.02, "rmsprop": 0.01, "adam": 0.05}[name]
    for _ in range(500):
        dw = a * w
        if name == "sgd":
            w = optim.sgd_step(w, dw, None, lr=lr)[0]
        else:
            w, state = getattr(optim, f"{name}_step")(w, dw, state, lr=lr)
    assert 0.5 * np.sum(a * w**2) < 1e-3


# ---------------------------------------------------------------- purity and dtype


@pytest.mark.parametrize("name", STATEFUL)
def test_arguments_and_previous_state_are_not_modified(name, rng):
    step = STATEFUL[name]
    w, dw = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    _, state1 = step(w, dw, None)
    frozen = {k: np.copy(v) for k, v in state1.items()}
    w_before, dw_before = w.copy(), dw.copy()
    w2, state2 = step(w, dw, state1)
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(dw, dw_before)
    assert state2 is not state1
    for k in frozen:
        np.testing.assert_array_equal(state1[k], frozen[k])
    assert not np.shares_memory(w2, w)


def test_sgd_does_not_modify_w(rng):
    w = rng.standard_normal(3)
    before = w.copy()
    optim.sgd_step(w, np.ones(3), None, lr=0.1)
    np.testing.assert_array_equal(w, before)


@pytest.mark.parametrize("name", ["sgd", *STATEFUL])
def test_float32_weights_stay_float32(name, rng):
    w = rng.standard_normal(4).astype(np.float32)
    for dw in (np.ones(4, dtype=np.float32), np.ones(4)):  # also with a float64 gradient
        if name == "sgd":
            w_new = optim.sgd_step(w, dw, None, lr=0.1)[0]
        else:
            w_new, state = STATEFUL[name](w, dw, None)
            w_new, _ = STATEFUL[name](w_new, dw, state)
        assert w_new.dtype == np.float32 and w_new.shape == w.shape


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize("name", STATEFUL)
def test_huge_and_zero_gradients_stay_finite(name, strict_fp):
    dw = np.array([1e4, -1e4, 1e3, -1e3, 0.0])
    w, state = np.zeros(5), None
    for _ in range(3):
        w, state = STATEFUL[name](w, dw, state)
    assert np.all(np.isfinite(w)) and all(np.all(np.isfinite(v)) for v in state.values())
    assert w[4] == 0.0  # no gradient, no move
    if name != "momentum":  # adaptive methods: the step does not grow with the gradient
        assert np.all(np.abs(w[:4]) < 1.0)


# ---------------------------------------------------------------- validation


def test_validation():
    with pytest.raises(ValueError, match=r"\(3,\) and \(3, 1\)"):
        optim.sgd_step(np.zeros(3), np.zeros((3, 1)), None, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.sgd_step(np.zeros(3), np.zeros(3), None, lr=-0.1)
    with pytest.raises(ValueError, match="beta"):
        optim.momentum_step(np.zeros(3), np.zeros(3), None, lr=0.1, beta=1.0)
    with pytest.raises(ValueError, match=r"state\['velocity'\] must have shape \(3,\), got shape \(2,\)"):
        optim.momentum_step(np.zeros(3), np.zeros(3), {"velocity": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match="'t'"):
        optim.adam_step(np.zeros(3), np.zeros(3), {"m": np.zeros(3), "v": np.zeros(3)}, lr=0.1)
    with pytest.raises(ValueError, match="state=None"):
        optim.rmsprop_step(np.zeros(3), np.zeros(3), {}, lr=0.1)


# ---------------------------------------------------------------- gradient_descent, the training loop of chapter 3


def _network(rng, n=12, d=2, h=6, k=3, dtype=np.float64):
    params = {"W1": rng.standard_normal((d, h)), "b1": 0.5 * rng.standard_normal(h),
              "W2": rng.standard_normal((h, k)), "b2": 0.5 * rng.standard_normal(k)}
    return {key: v.astype(dtype) for key, v in params.items()}, rng.standard_normal((n, d)).astype(dtype), rng.integers(0, k, n)


def test_gradient_descent_hand_computed():
    def quadratic(params, x, y):  # J = sum((w - 1)**2) + b**2
        return float(np.sum((params["w"] - 1) ** 2) + params["b"][0] ** 2), {"w": 2 * (params["w"] - 1), "b": 2 * params["b"]}

    params, losses = optim.gradient_descent(quadratic, {"w": np.array([3.0, -1.0]), "b": np.array([2.0])}, None, None,
                                            lr=0.25, num_steps=2)
    # each step halves the distance to the minimum: w 3 -> 2 -> 1.5, -1 -> 0 -> 0.5; b 2 -> 1 -> 0.5
    np.testing.assert_array_equal(params["w"], [1.5, 0.5])
    np.testing.assert_array_equal(params["b"], [0.5])
    np.testing.assert_array_equal(losses, [4 + 4 + 4, 1 + 1 + 1])  # recorded before each update
    assert losses.dtype == np.float64 and losses.shape == (2,)


def test_gradient_descent_steps_along_the_numerical_gradient(rng):
    """One step moves each parameter by -lr times the loss's gradient, checked by central differences."""
    params, x, y = _network(rng)
    lr = 0.1
    new, losses = optim.gradient_descent(two_layer_loss, params, x, y, lr, 1)
    assert losses[0] == two_layer_loss(params, x, y)[0]
    for key in params:
        step = (params[key] - new[key]) / lr  # the gradient the loop used
        f = lambda v, key=key: two_layer_loss({**params, key: v}, x, y)[0]  # noqa: E731
        assert check_gradient(f, params[key].copy(), step, name=key) < GRAD_RTOL


def test_gradient_descent_lowers_the_loss_of_a_network(rng):
    params, x, y = _network(rng)
    _, losses = optim.gradient_descent(two_layer_loss, params, x, y, lr=0.5, num_steps=100)
    assert losses.shape == (100,) and losses[-1] < 0.5 * losses[0]


def test_gradient_descent_leaves_params_alone_and_returns_a_new_dict(rng):
    params, x, y = _network(rng)
    given, before = dict(params), {key: v.copy() for key, v in params.items()}
    for steps in (0, 3):
        new, losses = optim.gradient_descent(two_layer_loss, params, x, y, 0.1, steps)
        assert new is not params and set(new) == set(params) and losses.shape == (steps,)
        assert all(params[key] is given[key] for key in params)
        for key in params:
            np.testing.assert_array_equal(params[key], before[key])
    zero_steps, no_losses = optim.gradient_descent(two_layer_loss, params, x, y, 0.1, 0)
    assert no_losses.dtype == np.float64
    for key in params:
        np.testing.assert_array_equal(zero_steps[key], params[key])


def test_gradient_descent_keeps_float32_parameters(rng):
    params, x, y = _network(rng, dtype=np.float32)
    new, losses = optim.gradient_descent(two_layer_loss, params, x, y, 0.1, 3)
    assert all(new[key].dtype == np.float32 and new[key].shape == params[key].shape for key in params)
    assert losses.dtype == np.float64


def test_gradient_descent_validation(rng):
    params, x, y = _network(rng)
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match=rf"num_steps must be an integer >= 0, got {bad}"):
            optim.gradient_descent(two_layer_loss, params, x, y, 0.1, bad)
    with pytest.raises(ValueError, match="lr must be >= 0, got -0.1"):
        optim.gradient_descent(two_layer_loss, params, x, y, -0.1, 1)


def test_every_step_has_one_signature_and_returns_its_state_last():
    """step(w, dw, state, lr, **options) -> (w_new, state), so train() can swap one rule for another."""
    w, dw = np.array([1.0, -1.0]), np.array([0.5, 0.25])
    for step in (optim.sgd_step, optim.momentum_step, optim.rmsprop_step, optim.adam_step):
        w_new, state = step(w, dw, None, lr=0.1)
        assert w_new.shape == w.shape and w_new.dtype == w.dtype
        assert list(inspect.signature(step).parameters)[:4] == ["w", "dw", "state", "lr"]
    assert optim.sgd_step(w, dw, None, 0.1)[1] is None


def test_sgd_step_rejects_a_state():
    with pytest.raises(ValueError, match="state=None"):
        optim.sgd_step(np.zeros(2), np.zeros(2), {"velocity": np.zeros(2)}, lr=0.1)


# ---------------------------------------------------------------- minibatch SGD (chapter 3's synthesis)


def test_minibatch_sgd_visits_every_example_once_per_epoch_in_batches(rng):
    seen = []

    def loss_fn(params, x, y):
        seen.append(y.copy())
        return 0.0, {"w": np.zeros_like(params["w"])}

    x, y = rng.standard_normal((10, 2)), np.arange(10)
    _, losses = optim.minibatch_sgd(loss_fn, {"w": np.zeros(2)}, x, y, lr=0.1, batch_size=4, epochs=2,
                                    rng=np.random.default_rng(3))
    assert [len(b) for b in seen] == [4, 4, 2] * 2 and losses.shape == (6,)  # the last batch is shorter
    for epoch in (seen[:3], seen[3:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    order = np.random.default_rng(3).permutation(10)
    np.testing.assert_array_equal(np.concatenate(seen[:3]), order)  # the order is rng.permutation(N)


def test_minibatch_sgd_steps_like_sgd_step_and_reports_each_epoch(rng):
    params, x, y = _network(rng, n=12)
    given, before = dict(params), {k: v.copy() for k, v in params.items()}
    epochs = []
    new, losses = optim.minibatch_sgd(two_layer_loss, params, x, y, lr=0.3, batch_size=5, epochs=3,
                                      rng=np.random.default_rng(0), on_epoch=lambda p: epochs.append(p))
    assert len(epochs) == 3 and epochs[-1] is new and new is not params
    assert all(params[k] is given[k] for k in params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    # the same loop by hand
    order_rng, p, expected = np.random.default_rng(0), dict(params), []
    for _ in range(3):
        order = order_rng.permutation(12)
        for start in range(0, 12, 5):
            batch = order[start:start + 5]
            loss, grads = two_layer_loss(p, x[batch], y[batch])
            expected.append(loss)
            p = {k: p[k] - 0.3 * grads[k] for k in p}
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(new[k], p[k], rtol=1e-12)


def test_minibatch_sgd_validation(rng):
    params, x, y = _network(rng)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        optim.minibatch_sgd(two_layer_loss, params, x, y, lr=0.1, batch_size=0, epochs=1, rng=rng)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        optim.minibatch_sgd(two_layer_loss, params, x, y, lr=0.1, batch_size=4, epochs=-1, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        optim.minibatch_sgd(two_layer_loss, params, x, y, lr=0.1, batch_size=4, epochs=1, rng=0)
    with pytest.raises(TypeError):  # rng is keyword-only, like every option
        optim.minibatch_sgd(two_layer_loss, params, x, y, 0.1, 4, 1, rng)
    with pytest.raises(ValueError, match="same number of examples"):
        optim.minibatch_sgd(two_layer_loss, params, x[:-1], y, lr=0.1, batch_size=4, epochs=1, rng=rng)
