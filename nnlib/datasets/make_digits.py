"""Generate nnlib/datasets/digits.npz: 16x16 grayscale handwritten-looking digits, pure numpy.

Each digit 0-9 is a stroke skeleton (lines and elliptic arcs in a unit box, a few styles per
digit: a 1 with or without a flag and a base, a 7 with or without a crossbar, an open or closed
4, ...). Every image draws one skeleton and distorts it: jitter of the control points, a smooth
random warp, a random affine map (rotation, shear, scale, translation), a random stroke
thickness; it is rendered antialiased (2x supersampled distance to the strokes), blurred, given
a random contrast, a stray mark now and then and background noise, quantised to 17 gray levels
(as in the 8x8 UCI digits; it halves the file) and stored as uint8.

Run ``python -m nnlib.datasets.make_digits`` from the repository root to rebuild the file. The
output is byte-for-byte deterministic (fixed seeds, fixed zip timestamps), so its SHA-256 matches
``nnlib.data.DIGITS_SHA256``; generating takes a few seconds.
"""

import io
import zipfile
from pathlib import Path

import numpy as np

SIZE = 16  # output images are SIZE x SIZE
SUPER = 2  # supersampling factor for antialiasing
LEVELS = 16  # gray levels 0..16, stored as uint8 0..255 (like the 8x8 UCI digits): keeps the file small
N_TRAIN, N_TEST = 8000, 2000
TRAIN_SEED, TEST_SEED = 20260, 20261
OUTPUT = Path(__file__).with_name("digits.npz")


def _arc(cx, cy, rx, ry, start, stop, n=16):
    """Points on an ellipse from angle ``start`` to ``stop`` (degrees, counter-clockwise, y down)."""
    a = np.radians(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1)


def _line(*points):
    return np.array(points, dtype=np.float64)


# Each digit: a list of styles; each style: a list of strokes (polylines, (P, 2) arrays of (x, y)
# in a unit box, y pointing down).
SKELETONS = {
    0: [
        [_arc(0.5, 0.5, 0.28, 0.42, 0, 360, 28)],
        [_arc(0.5, 0.5, 0.22, 0.42, 80, 440, 28)],
    ],
    1: [
        [_line((0.5, 0.08), (0.5, 0.92))],
        [_line((0.3, 0.3), (0.55, 0.08), (0.55, 0.92))],
        [_line((0.32, 0.28), (0.52, 0.08), (0.52, 0.92)), _line((0.3, 0.92), (0.74, 0.92))],
    ],
    2: [
        [np.vstack([_arc(0.5, 0.32, 0.27, 0.24, 160, -40), _line((0.2, 0.92), (0.82, 0.92))])],
        [np.vstack([_arc(0.48, 0.3, 0.25, 0.22, 170, -20), _line((0.3, 0.75), (0.18, 0.92), (0.85, 0.9))])],
    ],
    3: [
        [_arc(0.48, 0.29, 0.26, 0.21, 150, -90), _arc(0.48, 0.7, 0.3, 0.22, 90, -150)],
        [_line((0.2, 0.08), (0.78, 0.08), (0.45, 0.45)), _arc(0.47, 0.68, 0.3, 0.24, 90, -150)],
    ],
    4: [
        [_line((0.66, 0.92), (0.66, 0.08), (0.16, 0.64), (0.86, 0.64))],
        [_line((0.3, 0.08), (0.22, 0.6), (0.86, 0.6)), _line((0.66, 0.3), (0.66, 0.92))],
    ],
    5: [
        [_line((0.78, 0.08), (0.3, 0.08), (0.27, 0.45)), _arc(0.48, 0.66, 0.3, 0.26, 135, -150)],
        [_line((0.25, 0.1), (0.24, 0.45)), _arc(0.48, 0.66, 0.28, 0.26, 140, -150),
         _line((0.25, 0.1), (0.8, 0.09))],
    ],
    6: [
        [np.vstack([_arc(0.62, 0.55, 0.36, 0.47, 100, 180, 10), _arc(0.5, 0.68, 0.26, 0.24, 180, 540, 26)])],
        [np.vstack([_line((0.7, 0.08)), _arc(0.5, 0.68, 0.26, 0.24, 150, 530, 26)])],
    ],
    7: [
        [_line((0.18, 0.08), (0.82, 0.08), (0.4, 0.92))],
        [_line((0.18, 0.08), (0.82, 0.08), (0.4, 0.92)), _line((0.35, 0.52), (0.75, 0.5))],
        [_line((0.2, 0.2), (0.2, 0.08), (0.82, 0.08), (0.52, 0.92))],
    ],
    8: [
        [_arc(0.5, 0.28, 0.22, 0.2, 0, 360, 22), _arc(0.5, 0.7, 0.27, 0.22, 0, 360, 24)],
        [np.vstack([_arc(0.5, 0.28, 0.22, 0.2, -90, 270, 22), _arc(0.5, 0.7, 0.27, 0.22, 90, -270, 24)])],
    ],
    9: [
        [_arc(0.48, 0.32, 0.26, 0.23, 0, 360, 24), _line((0.74, 0.32), (0.7, 0.92))],
        [np.vstack([_arc(0.48, 0.32, 0.26, 0.23, 0, 360, 24), _arc(0.3, 0.32, 0.44, 0.6, 0, -80, 10)])],
    ],
}


def _distort(strokes, rng):
    """Jitter, warp smoothly and map by a random affine transform; returns strokes in pixels of
    the supersampled canvas."""
    allpts = np.vstack(strokes)
    jitter = 0.025 * rng.standard_normal(allpts.shape)
    # smooth warp: two random low-frequency sinusoids per coordinate
    freq = rng.uniform(1.0, 3.0, size=(2, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
    amp = rng.uniform(0.0, 0.05, size=2)
    warp = np.stack([amp[i] * np.sin(freq[i, 0] * np.pi * allpts[:, 1 - i] + phase[i, 0]) *
                     np.cos(freq[i, 1] * np.pi * allpts[:, i] + phase[i, 1]) for i in range(2)], axis=1)
    pts = allpts + jitter + warp - 0.5  # centred on the origin
    angle = np.radians(rng.normal(0.0, 9.0))
    shear = rng.normal(0.0, 0.18)
    sx, sy = rng.uniform(0.62, 0.92), rng.uniform(0.72, 0.92)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    shift = rng.normal(0.0, 0.06, size=2)
    pts = (pts @ affine.T + 0.5 + shift) * SIZE * SUPER  # (P, 2) in supersampled pixels
    out, start = [], 0
    for s in strokes:
        out.append(pts[start:start + len(s)])
        start += len(s)
    return out


def _segment_distance(strokes, grid):
    """Distance from every pixel centre (G, 2) to the nearest segment of the polylines."""
    a = np.vstack([s[:-1] for s in strokes])  # (S, 2) segment starts
    b = np.vstack([s[1:] for s in strokes])  # (S, 2) segment ends
    ab = b - a
    length2 = np.maximum(np.sum(ab * ab, axis=1), 1e-12)
    ap = grid[:, None, :] - a[None]  # (G, S, 2)
    t = np.clip(np.sum(ap * ab[None], axis=2) / length2, 0.0, 1.0)  # (G, S)
    nearest = a[None] + t[..., None] * ab[None]
    return np.sqrt(np.min(np.sum((grid[:, None, :] - nearest) ** 2, axis=2), axis=1))


def _blur(img, sigma):
    if sigma < 0.05:
        return img
    r = np.arange(-2, 3)
    k = np.exp(-0.5 * (r / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(img, 2)
    rows = sum(k[i] * padded[i:i + SIZE, :] for i in range(5))
    return sum(k[i] * rows[:, i:i + SIZE] for i in range(5))


def render(label, rng):
    """One distorted image of ``label`` as float64 (SIZE, SIZE) in [0, 1]."""
    styles = SKELETONS[label]
    strokes = _distort(styles[rng.integers(len(styles))], rng)
    if rng.random() < 0.25:  # a stray mark: a short random stroke somewhere
        p = rng.uniform(0, SIZE * SUPER, size=2)
        strokes.append(np.stack([p, p + rng.normal(0.0, 4.0, size=2)]))
    c = (np.arange(SIZE * SUPER) + 0.5)
    grid = np.stack(np.meshgrid(c, c, indexing="xy"), axis=-1).reshape(-1, 2)  # (x, y) per pixel
    d = _segment_distance(strokes, grid).reshape(SIZE * SUPER, SIZE * SUPER)
    half_width = rng.uniform(0.45, 1.15) * SUPER  # stroke half-width, in supersampled pixels
    ink = np.clip(half_width + 0.5 * SUPER - d, 0.0, SUPER) / SUPER  # soft edge one pixel wide
    img = ink.reshape(SIZE, SUPER, SIZE, SUPER).mean(axis=(1, 3))
    img = _blur(img, rng.uniform(0.0, 0.8))
    img = img / max(img.max(), 1e-12) * rng.uniform(0.55, 1.0)
    img = img + rng.uniform(0.0, 0.15) + rng.normal(0.0, rng.uniform(0.02, 0.1), size=img.shape)
    return np.clip(img, 0.0, 1.0)


def make_labels(n, seed):
    """``n`` labels (int64), n/10 of each digit, in a random order.

    >>> np.bincount(make_labels(20, seed=0)).tolist()
    [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    """
    return np.random.default_rng(seed).permutation(np.arange(n) % 10).astype(np.int64)


def make_image(label, seed, index):
    """Image ``index`` of the set made with ``seed``, as uint8 (SIZE, SIZE). Each image has its own
    generator, so any one can be regenerated alone (the tests do)."""
    img = render(int(label), np.random.default_rng([seed, index]))
    return np.round(np.round(img * LEVELS) * (255 / LEVELS)).astype(np.uint8)


def make_digits(n, seed):
    """``n`` images (uint8 (n, SIZE, SIZE)) and their labels (int64 (n,)), n/10 of each digit."""
    labels = make_labels(n, seed)
    images = np.stack([make_image(label, seed, i) for i, label in enumerate(labels)])
    return images, labels


def _npz_bytes(arrays):
    """An .npz archive with fixed timestamps, so equal arrays always give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(info, npy.getvalue(), compresslevel=9)
    return buffer.getvalue()


def build():
    x_train, y_train = make_digits(N_TRAIN, TRAIN_SEED)
    x_test, y_test = make_digits(N_TEST, TEST_SEED)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


if __name__ == "__main__":
    import hashlib

    data = _npz_bytes(build())
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT} ({len(data) / 1e6:.2f} MB), sha256 {hashlib.sha256(data).hexdigest()}")
