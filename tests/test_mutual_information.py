"""MI estimators on a linear-Gaussian encoder, whose mutual information is known in closed form.

x ~ N(0, I_k), z | x ~ N(A x, s^2 I_d): q(z) = N(0, A A^T + s^2 I) and I(x; z) = 0.5 logdet(I + A A^T / s^2).
"""
import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from utils.metrics import mutual_information as mi


def linear_gaussian(rng, n, a, s):
    x = rng.standard_normal((n, a.shape[1]))
    mean = x @ a.T
    std = np.full_like(mean, s)
    return mean, std


def true_mi(a, s):
    d = a.shape[0]
    return 0.5 * np.linalg.slogdet(np.eye(d) + a @ a.T / s ** 2)[1]


def test_gaussian_log_density_matches_scipy():
    rng = np.random.default_rng(0)
    z, mean = rng.standard_normal((2, 5, 3))
    std = rng.uniform(0.2, 2.0, (5, 3))
    expected = [stats.multivariate_normal(mean[i], np.diag(std[i] ** 2)).logpdf(z[i]) for i in range(5)]
    np.testing.assert_allclose(mi.gaussian_log_density(z, mean, std), expected, rtol=1e-10)


def test_gaussian_marginal_estimate_is_exact_for_a_linear_gaussian_encoder():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    mean, std = linear_gaussian(rng, 40000, a, 0.5)
    z = mi.sample_posterior(mean, std, rng)
    assert mi.gaussian_marginal_mi(z, std) == pytest.approx(true_mi(a, 0.5), abs=0.05)


def test_rate_equals_mi_when_the_marginal_is_the_prior_and_exceeds_it_by_the_marginal_kl():
    rng = np.random.default_rng(2)
    s, d = 0.3, 4
    mean, std = linear_gaussian(rng, 40000, math.sqrt(1 - s ** 2) * np.eye(d), s)   # q(z) = N(0, I)
    z = mi.sample_posterior(mean, std, rng)
    assert mi.rate(z, mean, std) == pytest.approx(d * math.log(1 / s), abs=0.05)

    a = rng.normal(size=(d, d))
    mean, std = linear_gaussian(rng, 40000, a, s)
    z = mi.sample_posterior(mean, std, rng)
    covariance = a @ a.T + s ** 2 * np.eye(d)
    marginal_kl = 0.5 * (np.trace(covariance) - d - np.linalg.slogdet(covariance)[1])
    assert mi.rate(z, mean, std) == pytest.approx(true_mi(a, s) + marginal_kl, rel=0.01)


def test_kde_estimate_in_two_dimensions():
    rng = np.random.default_rng(3)
    a = np.array([[1.0, 0.3], [-0.2, 0.8]])
    s = 0.6
    fit_mean, fit_std = linear_gaussian(rng, 20000, a, s)
    fit_z = mi.sample_posterior(fit_mean, fit_std, rng)
    mean, std = linear_gaussian(rng, 2000, a, s)
    assert mi.kde_mi(fit_z, mean, std, rng) == pytest.approx(true_mi(a, s), abs=0.1)


def test_aggregate_posterior_estimate_is_tight_for_small_mi_and_capped_at_log_n():
    rng = np.random.default_rng(4)
    a = np.array([[0.8, 0.0], [0.3, 0.5]])
    mean, std = linear_gaussian(rng, 4000, a, 0.7)
    z = mi.sample_posterior(mean, std, rng)
    estimate, ceiling = mi.aggregate_posterior_mi(z, mean, std, chunk=700)
    assert ceiling == pytest.approx(math.log(4000))
    assert estimate == pytest.approx(true_mi(a, 0.7), abs=0.08)

    # Nearly deterministic encoder: true MI is ~16 nats, the estimate saturates just under log N.
    mean, std = linear_gaussian(rng, 500, np.eye(2) * 3.0, 1e-3)
    z = mi.sample_posterior(mean, std, rng)
    estimate, ceiling = mi.aggregate_posterior_mi(z, mean, std)
    assert ceiling - 0.01 < estimate <= ceiling + 1e-9


def test_aggregate_posterior_matches_a_direct_mixture_density():
    rng = np.random.default_rng(5)
    mean = rng.normal(size=(30, 3))
    std = rng.uniform(0.3, 1.5, (30, 3))
    z = mi.sample_posterior(mean, std, rng)
    log_q = np.array([[stats.multivariate_normal(mean[j], np.diag(std[j] ** 2)).logpdf(z[i]) for j in range(30)]
                      for i in range(30)])
    direct = np.mean(np.diag(log_q) - (np.log(np.mean(np.exp(log_q), axis=1))))
    estimate, _ = mi.aggregate_posterior_mi(z, mean, std, chunk=7)
    assert estimate == pytest.approx(direct, rel=1e-9)


def test_all_estimates_have_their_names_and_the_ceiling():
    rng = np.random.default_rng(6)
    s = 0.5
    mean, std = linear_gaussian(rng, 3000, math.sqrt(1 - s ** 2) * np.eye(2), s)
    results = mi.mutual_information_estimates(mean, std, rng, kde_points=1000, aggregate_points=2000)
    assert set(results) == {"mi_rate", "mi_gaussian", "mi_kde", "mi_aggregate", "mi_aggregate_ceiling"}
    truth = 2 * math.log(1 / s)
    for key in ("mi_rate", "mi_gaussian", "mi_kde", "mi_aggregate"):
        assert results[key] == pytest.approx(truth, abs=0.15), key
    assert results["mi_aggregate_ceiling"] == pytest.approx(math.log(2000))


@pytest.mark.slow
def test_evaluate_command_adds_the_new_keys_to_a_trained_run(tmp_path, shared_data_prefix, monkeypatch):
    """examples/evaluate.py on one of our run directories: restores ckpt/, keeps the legacy keys, adds the
    MI estimates and the consistency, skips the run the second time."""
    from click.testing import CliRunner

    import examples.evaluate as evaluate
    from methods.lagvae import LagrangianVAE
    from utils.legacy.runs import run_directory
    from utils.training.legacy import LegacyRun
    from utils.plumbing.results import read_evaluation, write_evaluation

    monkeypatch.setenv("DATA_PREFIX", shared_data_prefix)
    monkeypatch.setattr(mi, "KDE_FIT_SAMPLES", 3000)
    monkeypatch.setattr(mi.mutual_information_estimates, "__defaults__", (None, 500, 2000))
    logdir = run_directory(str(tmp_path), "lagvae", 64, 1.0, 86.0, 5.0)
    model = LagrangianVAE(mi=1.0, e1=86.0, e2=5.0, seed=0, jit_compile=False)
    # Change the weights so that only a restored model reproduces the saved run's rate.
    model.encoder.logstd.bias.assign(model.encoder.logstd.bias - 2.0)
    model.lambda1.assign(3.0)
    run = LegacyRun(model, logdir, "mnist", 250, 0)
    run.checkpoint.save()
    legacy = {prefix + key: value for prefix, data in (("test_", run.test_data), ("train_", run.train_data))
              for key, value in model.evaluate_split(data).items()}
    write_evaluation(logdir, legacy)

    result = CliRunner().invoke(evaluate.main, [logdir, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    ev = read_evaluation(logdir)
    assert ev["train_l1"] == np.float32(3.0) and ev["test_nll"] == legacy["test_nll"]    # legacy keys kept
    for split in ("train", "test"):
        assert ev["%s_consistency" % split] == pytest.approx(legacy["%s_nll" % split] + legacy["%s_elbo" % split])
        assert ev["%s_mi_rate" % split] == pytest.approx(legacy["%s_elbo" % split], rel=0.02)
        assert ev["%s_mi_aggregate" % split] <= ev["%s_mi_aggregate_ceiling" % split] + 1e-4
        assert isinstance(ev["%s_mi_gaussian" % split], np.float32)
    with open(os.path.join(logdir, "eval.json")) as stream:
        assert json.load(stream)["test_mi_kde"] == pytest.approx(float(ev["test_mi_kde"]))
    result = CliRunner().invoke(evaluate.main, [logdir, "--device", "cpu"])
    assert result.exit_code == 0 and "already evaluated" in result.output
