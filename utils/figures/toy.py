"""PNG figures of a 2D run (matplotlib Agg): the real data over the samples, the model density exp(-L) on the
evaluation grid (the authors' `plot_vae_density`), and the prior's components with their weights
(`plot_latent`: marker size ~ weight, '+' on inactive components with weight < 1/K^2). Each `*_figure`
returns the matplotlib figure (for tests); `plot_*` writes it as a PNG and closes it."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.plumbing.atomic import write_bytes_atomic  # noqa: E402


def _save(fig, path):
    import io
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=90)
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())


def samples_figure(real, fake, scale, title="samples"):
    """Generated points (filled, below) and the real data (hollow markers, on top), so neither hides the other."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:green", alpha=0.5, label="generated", zorder=2)
    ax.scatter(real[:, 0], real[:, 1], s=9, facecolors="none", edgecolors="tab:blue", linewidths=0.5,
               alpha=0.6, label="data", zorder=3)
    ax.set_xlim(-2 * scale, 2 * scale)
    ax.set_ylim(-2 * scale, 2 * scale)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    ax.set_title(title)
    return fig


def plot_samples(path, real, fake, scale, title="samples"):
    _save(samples_figure(real, fake, scale, title), path)


def density_figure(grid_losses, scale, title="model density exp(-L(x))"):
    """exp(-L) on the 'ij' grid of `evaluation_grid` (rows: first coordinate)."""
    n = int(round(np.sqrt(grid_losses.size)))
    density = np.exp(-np.asarray(grid_losses, np.float64).reshape(n, n))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(density.T, origin="lower", extent=[-2 * scale, 2 * scale, -2 * scale, 2 * scale], cmap="jet")
    ax.set_title(title)
    return fig


def plot_density(path, grid_losses, scale, title="model density exp(-L(x))"):
    _save(density_figure(grid_losses, scale, title), path)


def prior_figure(means, logvars, weights, latents=None, title="prior components"):
    """Prior density (contours) over the latent plane, the encoded data, component means sized by weight
    ('o', marker area ~ weight) and '+' on the inactive ones (weight < 1/K^2), with a legend below the plot."""
    from matplotlib.patches import Patch
    means, logvars, weights = (np.asarray(a, np.float64) for a in (means, logvars, weights))
    k = len(weights)
    spread = np.abs(means).max() + 3 * np.sqrt(np.exp(logvars).max())
    if latents is not None:
        spread = max(spread, np.abs(latents).max())
    axis = np.linspace(-spread, spread, 200)
    gx, gy = np.meshgrid(axis, axis)
    grid = np.stack([gx, gy], -1)[..., None, :]                      # (200, 200, 1, 2)
    var = np.exp(logvars)
    density = np.sum(weights * np.exp(-0.5 * np.sum((grid - means) ** 2 / var, -1))
                     / (2 * np.pi * np.sqrt(np.prod(var, -1))), -1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(gx, gy, density, levels=20, cmap="Blues", alpha=0.6)
    handles = [Patch(color=plt.get_cmap("Blues")(0.6), alpha=0.6, label="prior density")]
    if latents is not None:
        handles.append(ax.scatter(latents[:, 0], latents[:, 1], s=3, c="tab:orange", alpha=0.4,
                                  label="encoded data (E(x) means)"))
    sizes = np.clip(weights * 100, 1, 15)                             # marker diameters in points
    handles.append(ax.scatter(means[:, 0], means[:, 1], s=sizes ** 2, c="k",
                              label="component means (size ~ weight)"))
    inactive = weights < 1.0 / k ** 2
    handles.append(ax.scatter(means[inactive, 0], means[inactive, 1], s=64, marker="+", c="r",
                              label="inactive: weight < 1/K\u00b2 (%d)" % int(np.sum(inactive))))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize="small")
    ax.set_aspect("equal")
    ax.set_title("%s (K=%d, inactive %d)" % (title, k, int(np.sum(inactive))))
    return fig


def plot_prior(path, means, logvars, weights, latents=None, title="prior components"):
    _save(prior_figure(means, logvars, weights, latents, title), path)


def write_run_figures(directory, real, fake, grid_losses, scale, prior_params, latents=None):
    """samples.png, density.png, prior.png in `directory`; returns their paths."""
    paths = [os.path.join(directory, name) for name in ("samples.png", "density.png", "prior.png")]
    plot_samples(paths[0], real, fake, scale)
    plot_density(paths[1], grid_losses, scale)
    means, logvars, log_weights = (np.asarray(p) for p in prior_params)
    plot_prior(paths[2], means, logvars, np.exp(log_weights), latents)
    return paths
