"""Tests of nnlib.model: layers, Sequential, and the training loop."""

import io
from contextlib import redirect_stdout

import numpy as np
import pytest

from nnlib import data, losses
from nnlib.gradcheck import check_gradient
from nnlib.model import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool,
    Sequential,
    evaluate,
    predict,
    train,
)


def check_model_gradients(model, x, y, loss=losses.softmax_cross_entropy, seed=0, zero=()):
    """Every parameter gradient and the input gradient of ``loss(model(x), y)`` against central differences.

    The forward runs in training mode with a freshly seeded rng each time, so that dropout draws the
    same mask in every evaluation. The keys in ``zero`` are biases followed by batchnorm, which
    subtracts them again with the batch mean: their gradient is 0 up to rounding.
    """

    def total_loss():
        return loss(model.forward(x, training=True, rng=np.random.default_rng(seed)), y)[0]

    value, dout = loss(model.forward(x, training=True, rng=np.random.default_rng(seed)), y)
    dx = model.backward(dout)
    grads = {k: g.copy() for k, g in model.gradients().items()}
    assert set(grads) == set(model.parameters())
    for key, w in model.parameters().items():
        assert grads[key].shape == w.shape and grads[key].dtype == w.dtype
        if key in zero:
            assert np.abs(grads[key]).max() < 1e-12
            continue

        def f(v, key=key, w=w):
            model.set_parameters({key: v})
            try:
                return total_loss()
            finally:
                model.set_parameters({key: w})

        check_gradient(f, w, grads[key], name=f"d loss / d {key}")
    check_gradient(lambda v: loss(model.forward(v, training=True, rng=np.random.default_rng(seed)), y)[0],
                   x, dx, name="d loss / d x")


def test_dense_batchnorm_activation_dropout_gradients():
    rng = np.random.default_rng(0)
    model = Sequential([
        Dense(5, 7, rng=rng), BatchNorm(7), Activation("tanh"), Dropout(0.3),
        Dense(7, 6, rng=rng, init="xavier"), Activation("sigmoid"), Dense(6, 3, rng=rng),
    ])
    x = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, size=8)
    check_model_gradients(model, x, y, zero={"0.b"})


def test_conv_pool_flatten_gradients():
    rng = np.random.default_rng(1)
    model = Sequential([
        Conv2D(2, 3, 3, rng=rng, pad=1), BatchNorm(3), Activation("elu"), MaxPool(2),
        Flatten(), Dense(3 * 2 * 2, 4, rng=rng),
    ])
    x = rng.standard_normal((3, 2, 4, 4))
    y = np.array([0, 3, 1])
    check_model_gradients(model, x, y, zero={"0.b"})


def test_nested_sequential_keys_and_gradients():
    rng = np.random.default_rng(2)
    model = Sequential([Sequential([Dense(3, 4, rng=rng), Activation("relu")]), Dense(4, 1, rng=rng)])
    assert sorted(model.parameters()) == ["0.0.b", "0.0.w", "1.b", "1.w"]
    x = rng.standard_normal((6, 3)) + 0.5
    check_model_gradients(model, x, rng.standard_normal((6, 1)), loss=losses.mse)


def test_first_layer_skips_the_input_gradient_but_not_its_own():
    rng = np.random.default_rng(3)
    model = Sequential([Dense(4, 3, rng=rng), Activation("relu"), Dense(3, 2, rng=rng)])
    x = rng.standard_normal((5, 4))
    out = model.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dx = model.backward(dout)
    full = {k: v.copy() for k, v in model.gradients().items()}
    assert model.backward(dout, input_grad=False) is None
    for k, v in model.gradients().items():
        np.testing.assert_array_equal(v, full[k])
    assert dx.shape == x.shape


def test_layer_shapes_and_float32_end_to_end():
    rng = np.random.default_rng(4)
    f32 = np.float32
    model = Sequential([
        Conv2D(1, 4, 3, rng=rng, pad=1, dtype=f32), BatchNorm(4, dtype=f32), Activation("relu"), MaxPool(2),
        Flatten(), Dense(4 * 4 * 4, 10, rng=rng, dtype=f32), Dropout(0.5),
    ])
    x = rng.standard_normal((2, 1, 8, 8)).astype(f32)
    out = model.forward(x, training=True, rng=rng)
    assert out.shape == (2, 10) and out.dtype == f32
    dx = model.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.dtype == f32
    assert all(g.dtype == f32 for g in model.gradients().values())


def test_dropout_is_off_at_evaluation():
    rng = np.random.default_rng(5)
    model = Sequential([Dense(4, 50, rng=rng), Dropout(0.5), Dense(50, 3, rng=rng)])
    x = rng.standard_normal((10, 4))
    a, b = predict(model, x), predict(model, x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, model.forward(x, training=False))
    train_a = model.forward(x, training=True, rng=np.random.default_rng(0))
    train_b = model.forward(x, training=True, rng=np.random.default_rng(1))
    assert not np.array_equal(train_a, train_b)
    # without dropout the model is linear in the hidden layer, and the dropout-free output is the mean
    np.testing.assert_allclose(a, Sequential(model.layers[::2]).forward(x, training=False), rtol=1e-12)


def test_batchnorm_uses_running_statistics_at_evaluation():
    rng = np.random.default_rng(6)
    model = Sequential([BatchNorm(3)])
    x = 5 + 2 * rng.standard_normal((200, 3))
    for _ in range(200):  # momentum 0.9: the initial zeros and ones fade as 0.9**k
        model.forward(x, training=True)
    single = model.forward(x[:1], training=False)  # one example alone: needs the running statistics
    np.testing.assert_allclose(single, (x[:1] - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-3)


@pytest.fixture(scope="module")
def spiral_run():
    rng = np.random.default_rng(0)
    X, y = data.spirals(100, rng=rng)

    def run(seed, epochs=60):
        rng = np.random.default_rng(seed)
        model = Sequential([Dense(2, 64, rng=rng), Activation("relu"), Dense(64, 64, rng=rng), Activation("relu"),
                            Dense(64, 3, rng=rng)])
        history = train(model, X, y, lr=1e-2, epochs=epochs, batch_size=32, rng=rng, x_val=X[::3], y_val=y[::3],
                        progress=False)
        return model, history

    return X, y, run


def test_mlp_learns_spirals(spiral_run):
    X, y, run = spiral_run
    model, history = run(seed=1)
    loss, accuracy = evaluate(model, X, y)
    assert accuracy > 0.9 and history["accuracy"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0] / 3
    assert np.argmax(predict(model, X), axis=1).tolist() == np.argmax(model.forward(X, training=False), 1).tolist()


def test_history_lengths_and_same_seed_same_history(spiral_run):
    _, _, run = spiral_run
    _, h1 = run(seed=2, epochs=4)
    _, h2 = run(seed=2, epochs=4)
    _, h3 = run(seed=3, epochs=4)
    assert {k: len(v) for k, v in h1.items()} == {"loss": 4, "accuracy": 4, "val_loss": 4, "val_accuracy": 4}
    assert h1 == h2
    assert h1 != h3


def test_history_without_validation_and_regression_accuracy():
    rng = np.random.default_rng(7)
    x, y = data.noisy_sine(20, 1, rng=rng)
    model = Sequential([Flatten(), Dense(1, 8, rng=rng), Activation("tanh"), Dense(8, 1, rng=rng)])
    history = train(model, x, y[:, 0], loss="mse", optimizer="momentum", lr=0.05, epochs=3, batch_size=5,
                    rng=rng, progress=False)
    assert history["val_loss"] == [] and history["val_accuracy"] == []
    assert len(history["loss"]) == 3 and np.isnan(history["accuracy"]).all()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_every_optimizer_lowers_the_loss(optimizer):
    rng = np.random.default_rng(8)
    X, y = data.moons(200, rng=rng)
    model = Sequential([Dense(2, 16, rng=rng), Activation("relu"), Dense(16, 2, rng=rng)])
    before = evaluate(model, X, y)[0]
    train(model, X, y, optimizer=optimizer, lr=0.05 if optimizer in ("sgd", "momentum") else 0.01, epochs=5,
          batch_size=20, rng=rng, progress=False)
    assert evaluate(model, X, y)[0] < before


def test_progress_goes_to_stdout_one_line_per_epoch(capsys):
    rng = np.random.default_rng(9)
    X, y = data.xor(40, rng=rng)
    model = Sequential([Dense(2, 4, rng=rng), Activation("tanh"), Dense(4, 2, rng=rng)])
    train(model, X, y, epochs=3, batch_size=10, rng=rng, x_val=X, y_val=y)
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3  loss ") and "val_acc" in lines[0]
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        train(model, X, y, epochs=2, batch_size=10, rng=rng, progress=False)
    assert buffer.getvalue() == ""


def test_clear_errors():
    rng = np.random.default_rng(10)
    model = Sequential([Dense(2, 2, rng=rng)])
    X, y = data.xor(10, rng=rng)
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'"):
        train(model, X, y, optimizer="adamw", rng=rng)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        train(model, X, y, loss="hinge", rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        train(model, X, y, rng=0)
    with pytest.raises(ValueError, match="same number of examples, got 10 and 9"):
        train(model, X, y[:9], rng=rng)
    with pytest.raises(ValueError, match=r"0.w must have shape \(2, 2\), got shape \(3, 2\)"):
        model.set_parameters({"0.w": np.zeros((3, 2))})
    with pytest.raises(KeyError, match="no such parameter"):
        model.set_parameters({"1.w": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Activation("swish")


def test_train_passes_optimizer_options_and_names_an_unknown_one():
    """Regression: train(optimizer="sgd", optimizer_options=...) raised a bare TypeError."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = Sequential([Dense(3, 2, rng=rng)])
    history = train(model, x, y, optimizer="momentum", optimizer_options={"beta": 0.5}, lr=0.1,
                    epochs=1, batch_size=10, rng=rng, progress=False)
    assert len(history["loss"]) == 1
    with pytest.raises(ValueError, match="'sgd' has no option 'beta1'"):
        train(model, x, y, optimizer="sgd", optimizer_options={"beta1": 0.9}, epochs=1, rng=rng, progress=False)


# -- the conventions: dtype of backward, options, docstrings, rng -------------------------------------


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda rng: Dense(5, 3, rng=rng, dtype=np.float32), (4, 5)),
        (lambda rng: Activation("tanh"), (4, 5)),
        (lambda rng: Dropout(0.3), (4, 5)),
        (lambda rng: BatchNorm(5, dtype=np.float32), (4, 5)),
        (lambda rng: Flatten(), (4, 1, 2, 3)),
    ],
    ids=["Dense", "Activation", "Dropout", "BatchNorm", "Flatten"],
)
@pytest.mark.parametrize("input_grad", [True, False])
def test_a_float32_forward_with_a_float64_dout_gives_float32_gradients(make, shape, input_grad):
    rng = np.random.default_rng(0)
    layer = make(rng)
    x = rng.standard_normal(shape).astype(np.float32)
    out = layer.forward(x, training=True, rng=rng)
    dx = layer.backward(rng.standard_normal(out.shape), input_grad=input_grad)  # float64 dout
    if dx is not None:
        assert dx.dtype == np.float32 and dx.shape == x.shape
    for key, g in layer.grads.items():
        assert g.dtype == layer.params[key].dtype == np.float32, key


def test_bad_layer_options_are_value_errors():
    rng = np.random.default_rng(0)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"drop_prob must be in \[0, 1\)"):
            Dropout(bad)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=-1.0)
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        Dense(2, 3, rng=rng, init="glorot")
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        Conv2D(1, 2, 3, rng=rng, init="glorot")


@pytest.mark.parametrize("cls", [Dense, Activation, Dropout, BatchNorm, Conv2D, MaxPool, Flatten, Sequential])
def test_every_layer_documents_its_own_forward_and_backward(cls):
    for method in ("forward", "backward"):
        assert method in vars(cls) and vars(cls)[method].__doc__, f"{cls.__name__}.{method} has no docstring"
    if cls is Sequential:
        assert vars(cls)["params"].__doc__ and vars(cls)["grads"].__doc__


def test_layers_take_rng_by_keyword_and_draw_from_it():
    a = Dense(4, 3, rng=np.random.default_rng(1)).params["w"]
    np.testing.assert_array_equal(a, Dense(4, 3, rng=np.random.default_rng(1)).params["w"])
    with pytest.raises(TypeError):  # keyword-only, as everywhere in nnlib
        Dense(4, 3, np.random.default_rng(1))
    with pytest.raises(TypeError):
        Conv2D(1, 2, 3, np.random.default_rng(1))
    c = Conv2D(1, 2, 3, rng=np.random.default_rng(1)).params["w"]
    assert c.shape == (2, 1, 3, 3)


def test_max_pool_takes_kernel_size_and_still_its_old_name_size():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    expected = MaxPool(3, 3).forward(x, training=False)
    np.testing.assert_array_equal(MaxPool(kernel_size=3, stride=3).forward(x, training=False), expected)
    np.testing.assert_array_equal(MaxPool(size=3, stride=3).forward(x, training=False), expected)
    assert MaxPool().kernel_size == 2 and repr(MaxPool(3, 1)) == "MaxPool(kernel_size=3, stride=1)"
    with pytest.raises(ValueError, match="disagree"):
        MaxPool(kernel_size=2, size=3)
