"""The four 2D data sets of the benchmark (authors' `ToyDataset.next_batch` / `sample_2d_data`, 2D/dataset/dataset.py).

A fresh batch is drawn at every call (the authors' infinite sampler; there is no fixed training set).
All randomness comes from one seeded `numpy.random.Generator` whose state can be saved in a checkpoint
(`get_state` / `set_state`), so an interrupted run resumes with the very same data stream.
"""
import json

import numpy as np

DATASETS = ("8Gaussian", "spiral", "checkerboard", "rings")

_SQ2 = 1.0 / np.sqrt(2.0)
# Centre order of athaioan/intro_prior 2D/dataset/dataset.py:207-218, times scale 2.
EIGHT_CENTRES = 2.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (_SQ2, _SQ2), (_SQ2, -_SQ2), (-_SQ2, _SQ2),
                                (-_SQ2, -_SQ2)], dtype=np.float64)


def grid_scale(name):
    """1 for 8Gaussian (evaluation square [-2, 2]^2), 2 otherwise ([-4, 4]^2) (2D/dataset/dataset.py:220,
    T2:100; short names in methods/sintrovae.py)."""
    return 1 if name == "8Gaussian" else 2


def eight_gaussians(rng, n, sigma=0.02):
    """Uniform centre + N(0, 0.02^2) per coordinate, all divided by 1.414: radius ~1.414, std ~0.0141."""
    centres = EIGHT_CENTRES[rng.integers(0, len(EIGHT_CENTRES), size=n)]
    return (centres + sigma * rng.standard_normal((n, 2))) / 1.414


def spiral(rng, n):
    """Two arms: t = sqrt(U) * 3 pi, (-cos t * t + U/2, sin t * t + U/2) and its negation, /3, + 0.1 N(0, 1)."""
    half = n // 2
    t = np.sqrt(rng.random(half)) * 540 * (2 * np.pi) / 360
    d1x = -np.cos(t) * t + rng.random(half) * 0.5
    d1y = np.sin(t) * t + rng.random(half) * 0.5
    x = np.concatenate([np.stack([d1x, d1y], 1), np.stack([-d1x, -d1y], 1)]) / 3
    return x + 0.1 * rng.standard_normal(x.shape)


def checkerboard(rng, n):
    """x1 = 4U - 2, x2 = U - 2 randint{0,1} + (floor(x1) mod 2), output 2 (x1, x2) in [-4, 4]^2."""
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, size=n) * 2.0 + np.floor(x1) % 2
    return np.stack([x1, x2], 1) * 2


def rings(rng, n):
    """Four circles of radii 3, 2.25, 1.5, 0.75 (B//4 evenly spaced angles each, the rest on the smallest),
    resampled with replacement, + N(0, 0.08^2)."""
    n4 = n3 = n2 = n // 4
    n1 = n - n4 - n3 - n2
    points = []
    for count, radius in ((n4, 1.0), (n3, 0.75), (n2, 0.5), (n1, 0.25)):
        angles = np.linspace(0, 2 * np.pi, count + 1)[:-1]
        points.append(np.stack([np.cos(angles), np.sin(angles)], 1) * radius)
    x = np.concatenate(points) * 3.0
    x = x[rng.integers(0, n, size=n)]
    return x + 0.08 * rng.standard_normal(x.shape)


_GENERATORS = {"8Gaussian": eight_gaussians, "spiral": spiral, "checkerboard": checkerboard, "rings": rings}


class ToyData:
    """An endless stream of batches from one of DATASETS, reproducible from `seed`."""

    def __init__(self, name, seed):
        if name not in _GENERATORS:
            raise ValueError("unknown 2D data set %r; choose one of %s" % (name, ", ".join(DATASETS)))
        self.name = name
        self.grid_scale = grid_scale(name)
        self.rng = np.random.default_rng(seed)

    def next_batch(self, n):
        """n fresh points, float32 of shape (n, 2)."""
        return _GENERATORS[self.name](self.rng, n).astype(np.float32)

    def get_state(self):
        """The generator state as a JSON string (for a checkpoint)."""
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state):
        self.rng.bit_generator.state = json.loads(state)
