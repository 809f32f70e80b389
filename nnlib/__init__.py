"""nnlib: the course's reference implementation of neural networks, in plain numpy.

One module per topic; each states its shape letters and the chapter that teaches it.
Import modules explicitly, e.g. ``from nnlib import activations as ref``.

Shape letters used throughout: N batch, D features, M outputs, H hidden, K classes,
C channels, F filters, KH/KW kernel height/width, T time steps.

The API convention, the same in every module
--------------------------------------------
- **Plain functions** compute a value: ``sigmoid(x)``, ``softmax(x)``, ``mse(pred, target)``.
- **Layers** are pairs. ``x_forward(inputs..., *, options) -> (out, cache)``;
  ``x_backward(dout, cache) -> grads``, where ``grads`` is one array for one differentiable input,
  else a tuple in the order of the forward's array inputs, each with its input's shape. The cache
  is opaque: pass it to the backward, never read or change it.
- **State** goes in as an argument and comes back as the *last* returned value, never mutated:
  ``batchnorm_forward(x, gamma, beta, running, *, training) -> (out, cache, new_running)``;
  every optimiser step is ``step(w, dw, state, lr, **options) -> (new_w, new_state)``, with
  ``state=None`` on the first step (plain SGD keeps no state and returns ``None``).
- **Randomness** only through a keyword-only ``rng: numpy.random.Generator``; nnlib never seeds or
  touches numpy's global random state.
- **Names** mean one thing each: ``y`` integer class labels of shape (N,); ``target`` a real-valued
  target of the prediction's shape; ``w``/``b`` a layer's weights and bias (``W1``, ``b1``... only
  as keys of a network's parameter dict); ``kernel_size`` a window's side (convolution or pooling);
  ``drop_prob`` the probability of dropping a unit; ``lr`` the learning rate.
- **Bad input** raises ``ValueError`` (a bad option too: an unknown name, a rate out of range) or
  ``TypeError`` (not an array, not a generator), with a sentence naming the expected and actual values.
- **dtype**: computed in the dtype of the inputs and returned in it; a backward returns the dtype
  of its forward's input, whatever the dtype of ``dout``. Inputs are never modified.
"""

__version__ = "0.1.0"
