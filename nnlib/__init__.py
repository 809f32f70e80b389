"""nnlib: the course's reference implementation of neural networks, in plain numpy.

One module per topic; each states its shape letters and the chapter that teaches it.
Import modules explicitly, e.g. ``from nnlib import activations as ref``.

Shape letters used throughout: N batch, D features, M outputs, H hidden, K classes,
C channels, F filters, KH/KW kernel height/width, T time steps.
"""

__version__ = "0.1.0"
