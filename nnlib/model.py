"""Layers, a sequential model and a training loop: thin stateful wrappers over nnlib's function pairs.

Used by the chapters after the building blocks, so that an experiment is a few lines::

    model = Sequential([Dense(2, 64, rng=rng), Activation("relu"), Dense(64, 3, rng=rng)])
    history = train(model, X, y, lr=1e-2, epochs=50, batch_size=32, rng=rng)

Each layer keeps its parameters in ``.params`` and, after ``backward``, their gradients in
``.grads`` (same keys, shapes and dtypes), and remembers the forward's cache between
``forward(x, training=...)`` and ``backward(dout)``; the maths is all in the functional modules
(``dense``, ``activations``, ``regularization``, ``normalization``, ``conv``), which stay values in,
values out. ``Sequential`` names its parameters ``"<layer index>.<name>"`` (``"0.w"``). The
training loop keeps the optimiser state and applies the pure update rules of ``nnlib.optim``.

Every backward returns its input gradient in the dtype of the forward's input and each parameter
gradient in its parameter's dtype, whatever the dtype of ``dout`` (nnlib's dtype rule).
The layers that draw weights take ``rng`` as their third argument (``Dense(2, 3, rng=rng)``, kept
positional for the chapters that already call them so) or by keyword (``Dense(2, 3, rng=rng)``).

Shape letters: N batch, D features, M outputs, K classes, C channels, F filters, KH/KW kernel.
"""

import inspect
import sys
import time

import numpy as np

from nnlib import activations, conv, dense, init, losses, normalization, optim, regularization
from nnlib import validation
from nnlib.validation import require_generator

INITIALISERS = {
    "he": init.he_normal,
    "he_uniform": init.he_uniform,
    "xavier": init.xavier_normal,
    "xavier_uniform": init.xavier_uniform,
}


class Layer:
    """Base class: no parameters; subclasses define ``forward`` and ``backward``."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, *, training, rng=None):
        """Output of the layer for the batch ``x``; keeps what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, dout, *, input_grad=True):
        """Store the parameter gradients in ``.grads`` and return the gradient with respect to the
        forward's input (``input_grad=False``: the input is data, its gradient may be skipped)."""
        raise NotImplementedError

    def __repr__(self):
        shapes = ", ".join(f"{k}{v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class Dense(Layer):
    """Fully connected layer ``x @ w + b``: x (N, D) -> (N, M), w (D, M) from ``init``, b zeros.

    ``params``: ``{"w": (D, M), "b": (M,)}``; ``init`` names the initialiser (a key of ``INITIALISERS``),
    drawn from ``rng``.
    """

    def __init__(self, in_features, out_features, *, rng, init="he", dtype=np.float64):
        super().__init__()
        if init not in INITIALISERS:
            raise ValueError(f"unknown init {init!r}; expected one of {sorted(INITIALISERS)}.")
        self.params = {
            "w": INITIALISERS[init]((in_features, out_features), rng=rng, dtype=dtype),
            "b": np.zeros(out_features, dtype=dtype),
        }

    def forward(self, x, *, training, rng=None):
        """``x @ w + b`` for x of shape (N, D): (N, M). ``training`` and ``rng`` are unused (same in both modes)."""
        out, self._cache = dense.affine_forward(x, self.params["w"], self.params["b"])
        self._x = x
        return out

    def backward(self, dout, *, input_grad=True):
        """From dout (N, M): ``.grads = {"w": x.T @ dout (D, M), "b": dout summed over N (M,)}``; returns
        ``dout @ w.T`` (N, D), or None with ``input_grad=False`` (the input is data)."""
        if not input_grad:  # the first layer: skip dx = dout @ w.T (a third of the work; the data needs none)
            w, b = self.params["w"], self.params["b"]
            self.grads = {"w": (np.asarray(self._x).T @ dout).astype(w.dtype, copy=False),  # as in affine_backward
                          "b": dout.sum(axis=0).astype(b.dtype, copy=False)}
            return None
        dx, dw, db = dense.affine_backward(dout, self._cache)
        self.grads = {"w": dw, "b": db}
        return dx


class Activation(Layer):
    """Elementwise activation by name (a key of ``activations.ELEMENTWISE``), e.g. ``Activation("relu")``.

    ``params``: none (an empty dict).
    """

    def __init__(self, name, **params):
        super().__init__()
        if name not in activations.ELEMENTWISE:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(activations.ELEMENTWISE)}.")
        self.name, self.options = name, params

    def forward(self, x, *, training, rng=None):
        """The activation applied elementwise; any shape, the same in training and evaluation."""
        out, self._cache = activations.elementwise_forward(x, self.name, **self.options)
        self._dtype = out.dtype
        return out

    def backward(self, dout, *, input_grad=True):
        """``dout * f'(x)``, of the shape and dtype of the forward's input; no parameters."""
        return activations.elementwise_backward(dout, self._cache).astype(self._dtype, copy=False)

    def __repr__(self):
        return f"Activation({self.name!r})"


class Dropout(Layer):
    """Inverted dropout with probability ``drop_prob`` of dropping a unit; the identity when not training.

    ``params``: none. The mask is drawn from the ``rng`` given to ``forward`` in training.
    """

    def __init__(self, drop_prob):
        super().__init__()
        validation.require_probability(drop_prob, "drop_prob")
        self.drop_prob = drop_prob

    def forward(self, x, *, training, rng=None):
        """Training: each unit zeroed with probability ``drop_prob``, the rest scaled by 1/(1 - drop_prob),
        the mask drawn from ``rng`` (required). Evaluation: the identity."""
        out, self._cache = regularization.dropout_forward(x, self.drop_prob, training=training, rng=rng)
        return out

    def backward(self, dout, *, input_grad=True):
        """``dout`` through the forward's mask and scale (the identity after an evaluation forward)."""
        return regularization.dropout_backward(dout, self._cache)

    def __repr__(self):
        return f"Dropout({self.drop_prob})"


class BatchNorm(Layer):
    """Batch normalisation of D features of (N, D) inputs, or of C channels of (N, C, H, W) inputs.

    ``params``: ``{"gamma": (D,), "beta": (D,)}`` (ones and zeros to start). For images each channel is one
    feature, normalised over N, H and W. The running statistics
    (``.running``) are updated in training and used when not training.
    """

    def __init__(self, num_features, momentum=0.9, eps=1e-5, dtype=np.float64):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}.")
        self.params = {"gamma": np.ones(num_features, dtype=dtype), "beta": np.zeros(num_features, dtype=dtype)}
        self.momentum, self.eps, self.running = momentum, eps, None

    def forward(self, x, *, training, rng=None):
        """Normalised ``gamma * x_hat + beta``, of the shape of x: batch statistics in training (and
        ``.running`` replaced by the new running statistics), ``.running`` in evaluation."""
        self._shape = np.shape(x)
        if len(self._shape) == 4:  # (N, C, H, W) -> (N*H*W, C): every pixel is a row
            x = np.transpose(x, (0, 2, 3, 1)).reshape(-1, self._shape[1])
        out, self._cache, self.running = normalization.batchnorm_forward(
            x, self.params["gamma"], self.params["beta"], self.running,
            training=training, momentum=self.momentum, eps=self.eps,
        )
        if len(self._shape) == 4:
            n, c, h, w = self._shape
            out = np.ascontiguousarray(out.reshape(n, h, w, c).transpose(0, 3, 1, 2))
        return out

    def backward(self, dout, *, input_grad=True):
        """``.grads = {"gamma": ..., "beta": ...}`` (D,) or (C,); returns dx of the shape of x."""
        if len(self._shape) == 4:
            dout = np.transpose(dout, (0, 2, 3, 1)).reshape(-1, self._shape[1])
        dx, dgamma, dbeta = normalization.batchnorm_backward(dout, self._cache)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        if len(self._shape) == 4:
            n, c, h, w = self._shape
            dx = np.ascontiguousarray(dx.reshape(n, h, w, c).transpose(0, 3, 1, 2))
        return dx


class Conv2D(Layer):
    """2-D convolution: x (N, C, H, W) -> (N, F, H_out, W_out), w (F, C, KH, KW) from ``init``, b zeros.

    ``params``: ``{"w": (F, C, KH, KW), "b": (F,)}``.
    """

    def __init__(self, in_channels, filters, kernel_size, *, rng, stride=1, pad=0, init="he", dtype=np.float64):
        super().__init__()
        if init not in INITIALISERS:
            raise ValueError(f"unknown init {init!r}; expected one of {sorted(INITIALISERS)}.")
        kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
        self.params = {
            "w": INITIALISERS[init]((filters, in_channels, kh, kw), rng=rng, dtype=dtype),
            "b": np.zeros(filters, dtype=dtype),
        }
        self.stride, self.pad = stride, pad

    def forward(self, x, *, training, rng=None):
        """The convolution of x (N, C, H, W) with w, plus b: (N, F, H_out, W_out); the same in both modes."""
        out, self._cache = conv.conv2d_forward(x, self.params["w"], self.params["b"], self.stride, self.pad)
        return out

    def backward(self, dout, *, input_grad=True):
        """``.grads = {"w": (F, C, KH, KW), "b": (F,)}``; returns dx of the shape of x."""
        dx, dw, db = conv.conv2d_backward(dout, self._cache)
        self.grads = {"w": dw, "b": db}
        return dx


class MaxPool(Layer):
    """Max pooling over ``kernel_size`` x ``kernel_size`` windows: (N, C, H, W) -> (N, C, H_out, W_out).

    ``params``: none. ``size`` is the old name of ``kernel_size``, still accepted (as in ``conv.max_pool_forward``).
    """

    def __init__(self, kernel_size=None, stride=2, *, size=None):
        super().__init__()
        if size is not None and kernel_size is not None and size != kernel_size:
            raise ValueError(f"kernel_size={kernel_size} and its old name size={size} disagree; pass kernel_size only.")
        self.kernel_size = next((k for k in (kernel_size, size) if k is not None), 2)
        self.stride = stride

    def forward(self, x, *, training, rng=None):
        """The maximum of each window: (N, C, H, W) -> (N, C, H_out, W_out); the same in both modes."""
        out, self._cache = conv.max_pool_forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout, *, input_grad=True):
        """``dout`` routed to each window's maximum; dx of the shape of x. No parameters."""
        return conv.max_pool_backward(dout, self._cache)

    def __repr__(self):
        return f"MaxPool(kernel_size={self.kernel_size}, stride={self.stride})"


class Flatten(Layer):
    """(N, C, H, W) (or any (N, ...)) -> (N, C*H*W), so that a Dense layer can follow a convolution.

    ``params``: none.
    """

    def forward(self, x, *, training, rng=None):
        """x of shape (N, ...) as (N, product of the rest)."""
        self._shape, self._dtype = np.shape(x), np.asarray(x).dtype
        return np.reshape(x, (self._shape[0], -1))

    def backward(self, dout, *, input_grad=True):
        """``dout`` reshaped back to the shape (and dtype) of the forward's input."""
        return np.reshape(dout, self._shape).astype(self._dtype, copy=False)


class Sequential(Layer):
    """Layers applied in order; its parameters and gradients are dicts keyed ``"<index>.<name>"``.

    >>> rng = np.random.default_rng(0)
    >>> model = Sequential([Dense(2, 3, rng=rng), Activation("relu"), Dense(3, 1, rng=rng)])
    >>> {k: v.shape for k, v in model.parameters().items()}
    {'0.w': (2, 3), '0.b': (3,), '2.w': (3, 1), '2.b': (1,)}
    """

    def __init__(self, layers):
        self.layers = list(layers)  # the parameters live in the layers

    @property
    def params(self):
        """The same as ``parameters()``: ``{"0.w": ndarray, ...}``, read only (use ``set_parameters``)."""
        return self.parameters()

    @property
    def grads(self):
        """The same as ``gradients()``."""
        return self.gradients()

    def parameters(self):
        """All parameters, ``{"0.w": ndarray, "0.b": ndarray, ...}`` (the arrays themselves, not copies)."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def gradients(self):
        """The gradients of the last ``backward``, with the keys of ``parameters()``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def set_parameters(self, new):
        """Replace parameters by key (``{"0.w": new_w, ...}``; keys not given are kept)."""
        known = self.parameters()
        for key, value in new.items():
            if key not in known:
                raise KeyError(f"{key}: the model has no such parameter; its keys are {sorted(known)}.")
            if np.shape(value) != known[key].shape:
                raise ValueError(f"{key} must have shape {known[key].shape}, got shape {np.shape(value)}.")
            index, name = key.split(".", 1)
            layer = self.layers[int(index)]
            if isinstance(layer, Sequential):
                layer.set_parameters({name: value})
            else:
                layer.params[name] = value

    def forward(self, x, *, training, rng=None):
        """Each layer's forward in order, all in the same mode; ``rng`` is handed to every layer (dropout)."""
        for layer in self.layers:
            x = layer.forward(x, training=training, rng=rng)
        return x

    def backward(self, dout, *, input_grad=True):
        """Each layer's backward in reverse order; returns the gradient with respect to the model's input
        (None with ``input_grad=False``: the first layer may skip it)."""
        for i, layer in reversed(list(enumerate(self.layers))):
            dout = layer.backward(dout, input_grad=input_grad or i > 0)
        return dout

    def __repr__(self):
        return "Sequential([\n" + "".join(f"    {layer!r},\n" for layer in self.layers) + "])"


# ------------------------------------------------------------------------------------------ training

LOSSES = {
    "softmax_cross_entropy": losses.softmax_cross_entropy,
    "binary_cross_entropy_with_logits": losses.binary_cross_entropy_with_logits,
    "mse": losses.mse,
}

#: name -> step(w, dw, state, lr, **options) -> (w_new, state)
OPTIMIZERS = {
    "sgd": optim.sgd_step,
    "momentum": optim.momentum_step,
    "rmsprop": optim.rmsprop_step,
    "adam": optim.adam_step,
}


def _check_options(step, options, optimizer):
    """A clear ValueError for an option the optimiser does not have (e.g. ``beta1`` for "sgd")."""
    accepted = [p for p in inspect.signature(step).parameters if p not in ("w", "dw", "state", "lr")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"optimizer {optimizer!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are {accepted or 'none'}.")


def _loss_function(loss):
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)}.")
    return LOSSES[loss]


def _correct(out, y, loss):
    """Number of correct predictions in a batch (NaN for a regression loss)."""
    if loss == "softmax_cross_entropy":
        return int(np.sum(np.argmax(out, axis=1) == y))
    if loss == "binary_cross_entropy_with_logits":
        return int(np.sum((out > 0) == (y > 0.5)))
    return np.nan


def _batches(n, batch_size):
    return range(0, n, batch_size)


def predict(model, x, batch_size=1000):
    """The model's outputs for ``x`` in evaluation mode (dropout off, batchnorm's running statistics)."""
    return np.concatenate(
        [model.forward(x[i:i + batch_size], training=False) for i in _batches(len(x), batch_size)]
    )


def evaluate(model, x, y, loss="softmax_cross_entropy", batch_size=1000):
    """``(mean loss, accuracy)`` of the model on ``(x, y)`` in evaluation mode (accuracy NaN for mse)."""
    loss_fn = _loss_function(loss)
    total, correct = 0.0, 0
    for i in _batches(len(x), batch_size):
        out = model.forward(x[i:i + batch_size], training=False)
        total += loss_fn(out, y[i:i + batch_size])[0] * len(out)
        correct += _correct(out, y[i:i + batch_size], loss)
    return total / len(x), correct / len(x)


class _Progress:
    """One line per epoch; on a terminal, also a line rewritten in place (``\\r``) during the epoch."""

    def __init__(self, enabled, epochs, batches):
        self.enabled, self.epochs, self.batches = enabled, epochs, batches
        self.live = enabled and sys.stdout.isatty()
        self.last = 0.0

    def batch(self, epoch, done, loss):
        if self.live and time.monotonic() - self.last > 0.1:
            self.last = time.monotonic()
            bar = "=" * (20 * done // self.batches)
            print(f"\repoch {epoch + 1}/{self.epochs} [{bar:<20}] {done}/{self.batches} loss {loss:.4f}",
                  end="", flush=True)

    def epoch(self, epoch, history, seconds):
        if self.enabled:
            line = f"epoch {epoch + 1}/{self.epochs}  loss {history['loss'][-1]:.4f}  acc {history['accuracy'][-1]:.4f}"
            if history["val_loss"]:
                line += f"  val_loss {history['val_loss'][-1]:.4f}  val_acc {history['val_accuracy'][-1]:.4f}"
            line = f"{line}  ({seconds:.1f} s)"
            print(f"\r{line:<72}" if self.live else line, flush=True)


def train(model, x, y, *, loss="softmax_cross_entropy", optimizer="adam", lr=1e-3, epochs=10, batch_size=64,
          rng, x_val=None, y_val=None, progress=True, optimizer_options=None):
    """Minibatch training: each epoch visits the examples in a new random order, ``batch_size`` at a time.

    For each batch: forward (training mode), loss and its gradient, backward, then every parameter
    takes one optimiser step. The model is updated in place (its ``.params`` get the new arrays);
    the optimiser state lives here, one per parameter.

    Parameters
    ----------
    model : Sequential
    x : ndarray of shape (N, ...), y : ndarray of shape (N,) labels, or the targets of ``loss``
    loss : a key of ``LOSSES``
    optimizer : a key of ``OPTIMIZERS``; ``optimizer_options`` (dict) passes e.g. ``beta1``
    lr : float, learning rate
    rng : numpy.random.Generator, for the order of the examples and for dropout
    x_val, y_val : optional validation data, evaluated after every epoch
    progress : bool, print progress to standard output (never to standard error)

    Returns
    -------
    history : dict of lists, one entry per epoch: ``loss`` and ``accuracy`` (averaged over the epoch's
        batches, as measured during training), ``val_loss`` and ``val_accuracy`` (empty without
        validation data). Accuracy is NaN for ``mse``.

    >>> from nnlib import data
    >>> rng = np.random.default_rng(0)
    >>> X, y = data.xor(200, rng=rng)
    >>> model = Sequential([Dense(2, 16, rng=rng), Activation("tanh"), Dense(16, 2, rng=rng)])
    >>> history = train(model, X, y, lr=0.05, epochs=20, batch_size=20, rng=rng, progress=False)
    >>> len(history["loss"]), evaluate(model, X, y)[1] > 0.95
    (20, True)
    """
    loss_fn = _loss_function(loss)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}.")
    require_generator(rng)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}.")
    step, options = OPTIMIZERS[optimizer], dict(optimizer_options or {})
    _check_options(step, options, optimizer)
    n = len(x)
    state = {}  # optimiser state per parameter key
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    show = _Progress(progress, epochs, len(_batches(n, batch_size)))
    for epoch in range(epochs):
        start, order = time.monotonic(), rng.permutation(n)
        total, correct = 0.0, 0
        for b, i in enumerate(_batches(n, batch_size)):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            out = model.forward(xb, training=True, rng=rng)
            value, dout = loss_fn(out, yb)
            model.backward(dout, input_grad=False)
            params, grads = model.params, model.grads
            new = {}
            for key in params:
                new[key], state[key] = step(params[key], grads[key], state.get(key), lr, **options)
            model.set_parameters(new)
            total += value * len(idx)
            correct += _correct(out, yb, loss)
            show.batch(epoch, b + 1, total / (i + len(idx)))
        history["loss"].append(total / n)
        history["accuracy"].append(correct / n)
        if x_val is not None:
            val_loss, val_accuracy = evaluate(model, x_val, y_val, loss)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
        show.epoch(epoch, history, time.monotonic() - start)
    return history
