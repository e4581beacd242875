"""The 2D evaluation of the authors (`get_quantitatives`, 2D/utils/plumbing/results.py:26-142), reproduced exactly.

* sample KL: 5000 real and 5000 generated points, `np.histogram2d(bins=100, range=[-2s, 2s]^2, density=True)`,
  KL = F.kl_div(log(Q + 1e-14), P, 'batchmean') = (1/100) sum P (log P - log(Q + 1e-14)), 0 log 0 = 0;
* "sample_entropy": the same with the uniform density U as target (a proxy of the sample entropy);
* "JSD" on a separate 5000/5000 draw, with the authors' argument order 0.5 (KL(M||P) + KL(M||Q));
* gnELBO: per-point L(x) = KL_MC + RE (beta's 1) on the 1024 x 1024 grid over [-2s, 2s]^2 and on 100 real
  batches of 128, one fixed eps matrix (MC, L) for all points, lv clamped >= -80;
  gnELBO = mean_real L / (sum_grid L + sum_real L). Lower is better; the tables show it x 1e7.
"""
import numpy as np
import tensorflow as tf

HIST_BINS = 100
GRID_POINTS = 1024
NUM_SAMPLES = 5000
REAL_BATCHES, REAL_BATCH_SIZE = 100, 128
KL_FLOOR = 1e-14


def density_histogram(samples, scale, bins=HIST_BINS):
    """Density histogram over [-2s, 2s]^2 (rows: first coordinate), as in `calculate_sample_kl`."""
    limits = [[-2 * scale, 2 * scale], [-2 * scale, 2 * scale]]
    hist, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=bins, density=True, range=limits)
    return hist


def kl_div_batchmean(log_input, target):
    """torch `F.kl_div(log_input, target, reduction='batchmean')`: sum target (log target - log_input) / rows,
    with the target's 0 log 0 taken as 0."""
    target = np.asarray(target, np.float64)
    log_target = np.log(np.where(target > 0, target, 1.0))
    return float(np.sum(np.where(target > 0, target * (log_target - log_input), 0.0)) / target.shape[0])


def sample_kl(real_hist, fake_hist, scale, bins=HIST_BINS):
    """(KL(P || Q), KL(U || Q)) as the authors compute them (batchmean over histogram rows)."""
    kl = kl_div_batchmean(np.log(fake_hist + KL_FLOOR), real_hist)
    bin_area = (4.0 * scale / bins) ** 2
    uniform = np.ones_like(fake_hist) / fake_hist.size / bin_area
    entropy = kl_div_batchmean(np.log(fake_hist + KL_FLOOR), uniform)
    return kl, entropy


def authors_jsd(real_hist, fake_hist):
    """The authors' "JSD": 0.5 (KL(M || P) + KL(M || Q)) with M = (P + Q)/2 (inherited from Soft-IntroVAE)."""
    middle = 0.5 * (fake_hist + real_hist)
    return 0.5 * (kl_div_batchmean(np.log(real_hist + KL_FLOOR), middle)
                  + kl_div_batchmean(np.log(fake_hist + KL_FLOOR), middle))


def evaluation_grid(scale, points=GRID_POINTS):
    """torch `setup_grid`: linspace(-2s, 2s, n), meshgrid 'ij', rows (x[i], x[j]) in row-major order."""
    axis = np.linspace(-2 * scale, 2 * scale, points, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], 1)


def grid_normalised_elbo(real_losses, grid_losses):
    """mean_real L / (sum_grid L + sum_real L), in float64."""
    real_losses = np.asarray(real_losses, np.float64)
    return float(np.mean(real_losses / (np.sum(grid_losses, dtype=np.float64) + np.sum(real_losses))))


def point_losses(loss_fn, points, eps, batch_size=8192):
    """L(x) for every row of `points` with `loss_fn(x, eps)` (batching does not change the values)."""
    values = [loss_fn(tf.constant(points[i:i + batch_size]), eps).numpy()
              for i in range(0, len(points), batch_size)]
    return np.concatenate(values)


def evaluate(model, data, mc=100, seed=0, batch_size=8192, grid_points=GRID_POINTS):
    """The authors' full evaluation of a trained model on its data stream `data` (a ToyData).

    Order of draws as in `get_quantitatives`: KL's 5000 real / 5000 fake, JSD's 5000 / 5000, the grid,
    then 100 real batches of 128 (`grid_points` per side: 1024 as the authors; smaller only for tests).
    Returns a dict (gnelbo, kl, jsd, entropy) and the grid losses (for figures).
    """
    scale = data.grid_scale
    # rows: (component seed, noise seed); the draws of the recorded runs (before the seed rows were documented)
    sample_seeds = tf.constant([[seed, seed], [1, 2]], tf.int64)
    real = data.next_batch(NUM_SAMPLES)
    fake = model.sample(NUM_SAMPLES, seed=sample_seeds).numpy()
    kl, entropy = sample_kl(density_histogram(real, scale), density_histogram(fake, scale), scale)
    real = data.next_batch(NUM_SAMPLES)
    fake = model.sample(NUM_SAMPLES, seed=sample_seeds + 10).numpy()
    jsd = authors_jsd(density_histogram(real, scale), density_histogram(fake, scale))
    eps = tf.random.stateless_normal((mc, model.z_dim), tf.constant([seed, 3], tf.int64))
    loss_fn = tf.function(model.point_loss, jit_compile=model.jit_compile, reduce_retracing=True)
    grid_losses = point_losses(loss_fn, evaluation_grid(scale, grid_points), eps, batch_size)
    real_points = np.concatenate([data.next_batch(REAL_BATCH_SIZE) for _ in range(REAL_BATCHES)])
    real_losses = point_losses(loss_fn, real_points, eps, batch_size)
    results = {"gnelbo": grid_normalised_elbo(real_losses, grid_losses), "kl": kl, "jsd": jsd,
               "entropy": entropy}
    return results, grid_losses


def results_line(results, beta_kl, beta_neg, beta_rec, seed):
    """One line of results_log_soft_intro_vae.txt (R2:137-139)."""
    return "_beta_kl_%s_beta_neg_%s_beta_rec_%s_gnelbo_%s_kl_%s_jsd_%s_entropy_%s_seed_%s\n" % (
        beta_kl, beta_neg, beta_rec, results["gnelbo"], results["kl"], results["jsd"], results["entropy"], seed)
