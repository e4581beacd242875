"""The 2D generators (spec 2.1) and the authors' evaluation quantities (spec 2.4)."""
import math

import numpy as np
import pytest

from utils.metrics import toy as toy_metrics
from utils.data.toy import DATASETS, ToyData, grid_scale


def test_eight_gaussians_radius_spread_and_centres():
    x = ToyData("8Gaussian", 0).next_batch(40000).astype(np.float64)
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius.mean(), 2 / 1.414, atol=2e-3)          # ~1.4144
    angles = np.round(np.arctan2(x[:, 1], x[:, 0]) / (np.pi / 4)) % 8
    counts = np.bincount(angles.astype(int), minlength=8)
    assert counts.min() > 4500                                                # 8 equally likely modes
    centre = 2 * np.array([np.cos(angles * np.pi / 4), np.sin(angles * np.pi / 4)]).T / 1.414
    np.testing.assert_allclose((x - centre).std(axis=0), 0.02 / 1.414, rtol=0.03)   # std ~0.01414


def test_checkerboard_support_and_cells():
    x = ToyData("checkerboard", 1).next_batch(20000)
    assert np.all(np.abs(x) <= 4.0)
    cells = np.floor(x / 2).astype(int)                       # 4 x 4 cells of side 2
    parity = (cells[:, 0] + cells[:, 1]) % 2
    assert np.all(parity == 0)                                # only the "black" squares are used
    counts = np.unique(cells, axis=0, return_counts=True)[1]
    assert len(counts) == 8 and counts.min() > 2000


def test_rings_radii_and_proportions():
    x = ToyData("rings", 2).next_batch(20000).astype(np.float64)
    radius = np.linalg.norm(x, axis=1)
    ring = np.argmin(np.abs(radius[:, None] - np.array([3.0, 2.25, 1.5, 0.75])[None]), axis=1)
    for index, r in enumerate((3.0, 2.25, 1.5, 0.75)):
        np.testing.assert_allclose(radius[ring == index].mean(), r, atol=0.01)
        np.testing.assert_allclose(np.mean(ring == index), 0.25, atol=0.02)


def test_spiral_is_point_symmetric_with_two_arms():
    x = ToyData("spiral", 3).next_batch(20000).astype(np.float64)
    assert x.shape == (20000, 2)
    np.testing.assert_allclose(x.mean(axis=0), [0.0, 0.0], atol=0.03)       # the arms are mirror images
    assert np.abs(x).max() < 4.0 and np.linalg.norm(x, axis=1).max() > 2.8  # t up to 3 pi: radius ~pi


def test_stream_is_seeded_and_resumable():
    a, b = ToyData("rings", 5), ToyData("rings", 5)
    a.next_batch(10)
    state = a.get_state()
    expected = a.next_batch(7)
    b.set_state(state)
    np.testing.assert_array_equal(b.next_batch(7), expected)
    assert [grid_scale(name) for name in DATASETS] == [1, 2, 2, 2]
    with pytest.raises(ValueError):
        ToyData("moons", 0)


def test_kl_of_identical_histograms_is_zero_and_small_case_by_hand():
    p = toy_metrics.density_histogram(ToyData("8Gaussian", 0).next_batch(5000), 1)
    assert toy_metrics.kl_div_batchmean(np.log(p + 1e-14), p) == pytest.approx(0.0, abs=1e-9)
    assert toy_metrics.authors_jsd(p, p) == pytest.approx(0.0, abs=1e-9)
    # 2 rows: P = [[1, 0], [1, 2]], Q = [[2, 1], [0, 1]]; 0 log 0 = 0, log(0 + 1e-14) in the last term
    P, Q = np.array([[1.0, 0.0], [1.0, 2.0]]), np.array([[2.0, 1.0], [0.0, 1.0]])
    expected_kl = (1 * math.log(1 / 2) + 1 * (0 - math.log(1e-14)) + 2 * math.log(2 / 1)) / 2
    assert toy_metrics.kl_div_batchmean(np.log(Q + 1e-14), P) == pytest.approx(expected_kl, rel=1e-9)
    M = (P + Q) / 2
    kl_mp = sum(m * (math.log(m) - math.log(p_ + 1e-14)) for m, p_ in zip(M.ravel(), P.ravel()) if m > 0) / 2
    kl_mq = sum(m * (math.log(m) - math.log(q + 1e-14)) for m, q in zip(M.ravel(), Q.ravel()) if m > 0) / 2
    assert toy_metrics.authors_jsd(P, Q) == pytest.approx(0.5 * (kl_mp + kl_mq), rel=1e-9)   # KL(M||.) order


def test_histograms_are_densities_and_sample_entropy_of_uniform_is_zero():
    rng = np.random.default_rng(0)
    uniform_points = rng.uniform(-4, 4, size=(400000, 2))
    hist = toy_metrics.density_histogram(uniform_points, 2)
    assert hist.shape == (100, 100)
    np.testing.assert_allclose(hist.sum() * (8 / 100) ** 2, 1.0)
    kl, _ = toy_metrics.sample_kl(hist, hist, 2)
    assert kl == pytest.approx(0.0, abs=1e-9)
    uniform = np.full((100, 100), 1 / 64.0)                 # the uniform density on [-4, 4]^2
    assert toy_metrics.sample_kl(hist, uniform, 2)[1] == pytest.approx(0.0, abs=1e-12)
    half = np.zeros((100, 100))
    half[:50] = 2 / 64.0                                     # all mass on half of the square
    expected = (5000 * (1 / 64) * math.log(0.5) + 5000 * (1 / 64) * (math.log(1 / 64) - math.log(1e-14))) / 100
    assert toy_metrics.sample_kl(hist, half, 2)[1] == pytest.approx(expected, rel=1e-9)


def test_grid_layout_and_gnelbo_normalisation():
    grid = toy_metrics.evaluation_grid(1, points=4)
    np.testing.assert_allclose(grid[:5], [[-2, -2], [-2, -2 / 3], [-2, 2 / 3], [-2, 2], [-2 / 3, -2]], rtol=1e-6)
    assert toy_metrics.grid_normalised_elbo([1.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(2.0 / 10.0)
    line = toy_metrics.results_line({"gnelbo": 1e-7, "kl": 2.0, "jsd": 1.0, "entropy": 3.0}, 0.3, 0.9, 0.2, 4)
    assert line == "_beta_kl_0.3_beta_neg_0.9_beta_rec_0.2_gnelbo_1e-07_kl_2.0_jsd_1.0_entropy_3.0_seed_4\n"
