"""Estimators of the mutual information I_q(x; z) of an encoder q(z|x) = N(mean(x), diag(std(x)^2)).

The paper's estimator is not known. Four estimators are computed, each under
its own name:

* `rate`      R = E_x E_q(z|x)[log q(z|x) - log p(z)], one z per x: the legacy `*_elbo` key. It is an upper
              bound, R = I + KL(q(z) || p(z)); the figure uses it (an inferred reading: the paper does not name its estimator).
* `gaussian`  0.5 logdet(2 pi e Cov[z]) - E[sum log std + (d/2) log 2 pi e]: H(q(z)) replaced by the entropy
              of a Gaussian with the same covariance (an upper bound on H, so on I); exact for a
              linear-Gaussian encoder (the authors' `mmd_vae.py:compute_z_logdet`).
* `kde`       the authors' research code (`ShengjiaZhao/Lagrangian` `vae_lagrangian.py:estimate_mi`): a
              `scipy.stats.gaussian_kde` fit to 20000 train z samples is the estimate of log q(z), evaluated at
              2000 z's; log q(z|x) is the analytic -H(q(z|x)). Its `log_r_z /= 2.0` is the mean over the 2 z
              draws per x in the version that draws 2 (`for k in range(2)`); the later version kept the
              `/= 2.0` with a single draw, which halves log q(z). Here the division is always by the number of
              draws (the intended mean), so the quirk's halving is not reproduced.
* `aggregate` the minibatch aggregate posterior: log q(z_i) ~ log (1/N) sum_j q(z_i | x_j) over the same N
              points. It is a lower bound (InfoNCE form) and can never exceed log N (9.21 nats at N = 10000),
              so it saturates for the figure's 10-52 nats; reported with its ceiling as a diagnostic.

All functions take NumPy arrays [N, d] and compute in float64.
"""
import math

import numpy as np
from scipy import stats
from scipy.special import logsumexp

LOG_2PI = math.log(2.0 * math.pi)
LOG_2PIE = math.log(2.0 * math.pi * math.e)

# The research code's sizes: a KDE fit to 20000 train z's, evaluated at 2000 z's.
KDE_FIT_SAMPLES = 20000
KDE_EVAL_SAMPLES = 2000
KDE_DRAWS = 2
# Points of the aggregate-posterior mixture (its ceiling is log of this).
AGGREGATE_SAMPLES = 10000


def _as64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def sample_posterior(mean, std, rng):
    """One reparameterised z ~ q(z|x) per row."""
    mean, std = _as64(mean, std)
    return mean + std * rng.standard_normal(mean.shape)


def gaussian_log_density(z, mean, std):
    """log N(z; mean, diag(std^2)), summed over the last axis (as tfd.MultivariateNormalDiag.log_prob)."""
    z, mean, std = _as64(z, mean, std)
    return np.sum(-0.5 * np.square((z - mean) / std) - np.log(std) - 0.5 * LOG_2PI, axis=-1)


def rate(z, mean, std):
    """R = mean_i [log q(z_i|x_i) - log N(z_i; 0, I)], one z per x: the legacy `elbo` key."""
    z, mean, std = _as64(z, mean, std)
    log_prior = np.sum(-0.5 * np.square(z) - 0.5 * LOG_2PI, axis=-1)
    return float(np.mean(gaussian_log_density(z, mean, std) - log_prior))


def posterior_entropy(std):
    """H(q(z|x)) per row: sum log std + (d/2) log 2 pi e."""
    (std,) = _as64(std)
    return np.sum(np.log(std) + 0.5 * LOG_2PIE, axis=-1)


def gaussian_marginal_mi(z, std):
    """0.5 logdet(2 pi e Cov[z]) - E[sum log std + (d/2) log 2 pi e]."""
    z, std = _as64(z, std)
    d = z.shape[1]
    covariance = np.atleast_2d(np.cov(z, rowvar=False))
    sign, logdet = np.linalg.slogdet(covariance)
    if sign <= 0:
        return float("nan")
    marginal_entropy = 0.5 * (logdet + d * LOG_2PIE)
    return float(marginal_entropy - np.mean(posterior_entropy(std)))


def kde_mi(fit_z, mean, std, rng, draws=KDE_DRAWS):
    """The research code's KDE estimate: mean_i [-H(q(z|x_i)) - mean_k log kde(z_ik)], z_ik ~ q(z|x_i).

    fit_z: the z samples the KDE is fit to (the research code: train z's); mean, std: the points it is
    evaluated at. The mean over the `draws` samples is the research code's `log_r_z /= 2.0` (see module doc).
    """
    (fit_z,) = _as64(fit_z)
    kernel = stats.gaussian_kde(fit_z.T)
    log_r = np.zeros(len(mean))
    for _ in range(draws):
        log_r += kernel.logpdf(sample_posterior(mean, std, rng).T)
    log_r /= float(draws)
    return float(np.mean(-posterior_entropy(std) - log_r))


def aggregate_posterior_mi(z, mean, std, chunk=1000):
    """mean_i [log q(z_i|x_i) - log (1/N) sum_j q(z_i|x_j)] over N points; never above log N.

    Returns (estimate, log N). Computed in chunks of rows so that memory stays at chunk x N.
    """
    z, mean, std = _as64(z, mean, std)
    n = len(z)
    inverse_variance = 1.0 / np.square(std)                        # [N, d]
    scaled_mean = mean * inverse_variance
    constant = (-0.5 * np.sum(np.square(mean) * inverse_variance, axis=1)
                - np.sum(np.log(std), axis=1) - 0.5 * z.shape[1] * LOG_2PI)  # [N]
    log_marginal = np.empty(n)
    for start in range(0, n, chunk):
        rows = z[start:start + chunk]
        # log q(z_i | x_j) for every i in the chunk and every j, expanded square.
        log_q = (-0.5 * np.square(rows) @ inverse_variance.T + rows @ scaled_mean.T + constant[None, :])
        log_marginal[start:start + chunk] = logsumexp(log_q, axis=1) - math.log(n)
    estimate = float(np.mean(gaussian_log_density(z, mean, std) - log_marginal))
    return estimate, math.log(n)


def mutual_information_estimates(mean, std, rng, fit_z=None, kde_points=KDE_EVAL_SAMPLES,
                                 aggregate_points=AGGREGATE_SAMPLES):
    """All estimators on one split's encoder outputs, as a dict of named floats.

    mean, std: [N, d] encoder outputs of the split. fit_z: the z's the KDE is fit to (default: a sample
    from this split). Keys: mi_rate, mi_gaussian, mi_kde, mi_aggregate, mi_aggregate_ceiling (= log N).
    """
    mean, std = _as64(mean, std)
    z = sample_posterior(mean, std, rng)
    results = {"mi_rate": rate(z, mean, std), "mi_gaussian": gaussian_marginal_mi(z, std)}
    if fit_z is None:
        fit_z = z[rng.permutation(len(z))[:KDE_FIT_SAMPLES]]
    rows = rng.permutation(len(z))[:kde_points]
    results["mi_kde"] = kde_mi(fit_z, mean[rows], std[rows], rng)
    rows = rng.permutation(len(z))[:aggregate_points]
    results["mi_aggregate"], results["mi_aggregate_ceiling"] = aggregate_posterior_mi(z[rows], mean[rows], std[rows])
    return results


def encoder_outputs(model, dataset):
    """(mean, std) of q(z|x) over one pass of `dataset` (freshly binarised batches), as float64 arrays."""
    means, stds = [], []
    for batch in dataset:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        posterior = model.encode(x)
        means.append(posterior.mean().numpy())
        stds.append(posterior.stddev().numpy())
    return np.concatenate(means).astype(np.float64), np.concatenate(stds).astype(np.float64)


def information_evaluation(model, train_dataset, test_dataset, seed=0, legacy=None):
    """The new eval.pkl keys of one run: `{split}_mi_{rate,gaussian,kde,aggregate}`, `{split}_mi_aggregate_ceiling`
    and, from the legacy keys in `legacy` (the eval.pkl dict), `{split}_consistency` = nll + elbo (-ELBO).

    As in the research code, the KDE is fit to KDE_FIT_SAMPLES train z's and used for both splits.
    `mi_rate` is recomputed on this pass (the same estimator as the legacy `*_elbo`, another Monte Carlo draw).
    Values are np.float32, like the legacy keys.
    """
    rng = np.random.default_rng(seed)
    outputs = {"train": encoder_outputs(model, train_dataset), "test": encoder_outputs(model, test_dataset)}
    train_mean, train_std = outputs["train"]
    rows = rng.permutation(len(train_mean))[:KDE_FIT_SAMPLES]
    fit_z = sample_posterior(train_mean[rows], train_std[rows], rng)
    results = {}
    for split, (mean, std) in outputs.items():
        for key, value in mutual_information_estimates(mean, std, rng, fit_z=fit_z).items():
            results["%s_%s" % (split, key)] = np.float32(value)
        if legacy and "%s_nll" % split in legacy and "%s_elbo" % split in legacy:
            results["%s_consistency" % split] = np.float32(legacy["%s_nll" % split] + legacy["%s_elbo" % split])
    return results
