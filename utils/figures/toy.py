"""PNG figures of a 2D run (matplotlib Agg): samples over the data, the model density exp(-L) on the
evaluation grid (the authors' `plot_vae_density`), and the prior's components with their weights
(`plot_latent`: marker size ~ weight, '+' on inactive components with weight < 1/K^2)."""
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


def plot_samples(path, real, fake, scale, title="samples"):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=0.4, label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:green", alpha=0.6, label="generated")
    ax.set_xlim(-2 * scale, 2 * scale)
    ax.set_ylim(-2 * scale, 2 * scale)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    ax.set_title(title)
    _save(fig, path)


def plot_density(path, grid_losses, scale, title="model density exp(-L(x))"):
    """exp(-L) on the 'ij' grid of `evaluation_grid` (rows: first coordinate)."""
    n = int(round(np.sqrt(grid_losses.size)))
    density = np.exp(-np.asarray(grid_losses, np.float64).reshape(n, n))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(density.T, origin="lower", extent=[-2 * scale, 2 * scale, -2 * scale, 2 * scale], cmap="jet")
    ax.set_title(title)
    _save(fig, path)


def plot_prior(path, means, logvars, weights, latents=None, title="prior components"):
    """Prior density (contours) over the latent plane, component means sized by weight, '+' if inactive."""
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
    if latents is not None:
        ax.scatter(latents[:, 0], latents[:, 1], s=3, c="tab:orange", alpha=0.4, label="E(x) means")
    sizes = np.clip(weights * 100, 1, 15)
    for mean, size, weight in zip(means, sizes, weights):
        ax.plot(mean[0], mean[1], "ok", markersize=size)
        if weight < 1.0 / k ** 2:
            ax.plot(mean[0], mean[1], "+r", markersize=8)
    ax.set_aspect("equal")
    ax.set_title("%s (K=%d, inactive %d)" % (title, k, int(np.sum(weights < 1.0 / k ** 2))))
    _save(fig, path)


def write_run_figures(directory, real, fake, grid_losses, scale, prior_params, latents=None):
    """samples.png, density.png, prior.png in `directory`; returns their paths."""
    paths = [os.path.join(directory, name) for name in ("samples.png", "density.png", "prior.png")]
    plot_samples(paths[0], real, fake, scale)
    plot_density(paths[1], grid_losses, scale)
    means, logvars, log_weights = (np.asarray(p) for p in prior_params)
    plot_prior(paths[2], means, logvars, np.exp(log_weights), latents)
    return paths
