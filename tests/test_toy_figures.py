"""The 2D command's figures (utils/figures/toy.py), read back from the matplotlib objects: samples.png shows the
real data on top of the generated points, prior.png has a legend for every mark."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.figures.toy import plot_prior, plot_samples, prior_figure, samples_figure


def by_label(ax):
    return {collection.get_label(): collection for collection in ax.collections}


def test_samples_draw_the_real_data_hollow_on_top_of_the_generated_points():
    real = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.5]])
    fake = np.array([[0.1, 0.9], [0.9, 0.1]])
    fig = samples_figure(real, fake, scale=2.0)
    (ax,) = fig.axes
    artists = by_label(ax)
    np.testing.assert_array_equal(artists["data"].get_offsets(), real)
    np.testing.assert_array_equal(artists["generated"].get_offsets(), fake)
    assert artists["data"].get_zorder() > artists["generated"].get_zorder()
    # what matplotlib draws last (highest zorder, then insertion order) is the data
    drawn = sorted(ax.collections, key=lambda artist: artist.get_zorder())
    assert drawn[-1] is artists["data"]
    assert len(artists["data"].get_facecolors()) == 0 and len(artists["data"].get_edgecolors()) == 1  # hollow
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["generated", "data"]
    assert ax.get_xlim() == (-4.0, 4.0) and ax.get_ylim() == (-4.0, 4.0)
    plt.close(fig)


@pytest.mark.parametrize("with_latents", [True, False])
def test_prior_legend_names_every_mark_and_the_marks_match_the_components(with_latents):
    k = 4
    means = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0], [2.0, -1.0]])
    logvars = np.full((k, 2), -2.0)
    weights = np.array([0.6, 0.35, 0.04, 0.01])        # 1/K^2 = 0.0625: the last two are inactive
    latents = np.array([[0.1, 0.2], [0.9, 1.1]]) if with_latents else None
    fig = prior_figure(means, logvars, weights, latents)
    (ax,) = fig.axes
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    expected = ["prior density"] + (["encoded data (E(x) means)"] if with_latents else []) + [
        "component means (size ~ weight)", "inactive: weight < 1/K\u00b2 (2)"]
    assert texts == expected
    artists = by_label(ax)
    components = artists["component means (size ~ weight)"]
    np.testing.assert_array_equal(components.get_offsets(), means)
    # marker diameter = weight x 100 points, clipped to [1, 15]: 15, 15, 4, 1; scatter sizes are areas
    np.testing.assert_allclose(components.get_sizes(), [225.0, 225.0, 16.0, 1.0])
    np.testing.assert_array_equal(artists["inactive: weight < 1/K\u00b2 (2)"].get_offsets(), means[2:])
    if with_latents:
        np.testing.assert_array_equal(artists["encoded data (E(x) means)"].get_offsets(), latents)
    assert ax.get_title() == "prior components (K=4, inactive 2)"
    plt.close(fig)


def test_the_png_writers_still_write_pngs(tmp_path):
    plot_samples(str(tmp_path / "samples.png"), np.zeros((4, 2)), np.ones((4, 2)), 2.0)
    plot_prior(str(tmp_path / "prior.png"), np.zeros((2, 2)), np.zeros((2, 2)), np.array([0.5, 0.5]), np.ones((3, 2)))
    for name in ("samples.png", "prior.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # closed after writing
