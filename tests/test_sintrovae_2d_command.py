"""End to end: examples/sintrovae_2d.py trains (warm-up, Vamp->MoG, adversarial), stops, resumes exactly,
evaluates, writes every artifact, and does not retrain a finished run."""
import csv
import json
import os
import re

import pytest
from click.testing import CliRunner

from examples.sintrovae_2d import main

FLAGS = ["--dataset", "8Gaussian", "--num-components", "8", "--iterations", "90", "--warmup", "30",
         "--mog-warmup", "10", "--lr-milestones", "60,80", "--mc", "3", "--batch-size", "64", "--eval-mc", "2",
         "--eval-grid", "128", "--log-every", "10", "--checkpoint-every", "1000", "--no-xla", "--device", "cpu"]
RUN = "sintrovae2d/8Gaussian/sintrovae_vamp8_lc1_ip1_swg1_clip1_r0_b0.2-0.3-0.9_it90_vae30_lr60-80_mc3/seed0"


def _invoke(root, *extra):
    result = CliRunner().invoke(main, FLAGS + list(extra), env={"EXP_LOG_PATH": str(root)})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.mark.slow
def test_command_trains_resumes_evaluates_and_skips_finished_runs(tmp_path):
    run_dir = tmp_path / "a" / RUN
    output = _invoke(tmp_path / "a", "--stop-after", "50")
    assert "VampPrior -> MoG(8)" in output and "adversarial phase (prior clipping bounds frozen)" in output
    assert not (run_dir / "eval.json").exists() and (run_dir / "ckpt" / "checkpoint").exists()
    output = _invoke(tmp_path / "a")
    assert "Resuming" in output and "at iteration 50" in output
    record = json.loads((run_dir / "eval.json").read_text())
    assert record["finite"] and record["kl"] > 0 and record["jsd"] > 0 and 0 < record["gnelbo"] < 1e-3
    line = (run_dir / "results_log_soft_intro_vae.txt").read_text()
    assert re.fullmatch(r"_beta_kl_0\.3_beta_neg_0\.9_beta_rec_0\.2_gnelbo_\S+_kl_\S+_jsd_\S+_entropy_\S+_seed_0\n",
                        line)
    for name in ("samples.png", "density.png", "prior.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(run_dir / "progress.csv")))
    assert [int(float(r["iteration"])) for r in rows] == list(range(10, 100, 10))
    phases = [int(float(r["phase"])) for r in rows]
    assert phases == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    lrs = {int(float(r["iteration"])): float(r["lr"]) for r in rows}
    assert lrs[60] == pytest.approx(2e-4) and lrs[70] == pytest.approx(2e-5) and lrs[90] == pytest.approx(2e-6)
    assert os.listdir(run_dir / "tb")
    # the interrupted run equals an uninterrupted one (model, optimizers, data stream and phase restored)
    _invoke(tmp_path / "b")
    uninterrupted = json.loads((tmp_path / "b" / RUN / "eval.json").read_text())
    for key in ("kl", "jsd", "gnelbo", "entropy"):
        assert record[key] == pytest.approx(uninterrupted[key], rel=1e-5), key
    # a finished run is not retrained
    assert "is finished" in _invoke(tmp_path / "a")


def test_bad_flags_are_one_line_errors(tmp_path):
    result = CliRunner().invoke(main, ["--warmup", "10", "--mog-warmup", "20"], env={"EXP_LOG_PATH": str(tmp_path)})
    assert result.exit_code == 2 and "--mog-warmup (20) must not exceed --warmup (10)" in result.output
    result = CliRunner().invoke(main, ["--dataset", "moons"], env={"EXP_LOG_PATH": str(tmp_path)})
    assert result.exit_code == 2 and "moons" in result.output
    result = CliRunner().invoke(main, ["--lr-milestones", "15000,10000"], env={"EXP_LOG_PATH": str(tmp_path)})
    assert result.exit_code == 2 and "increasing" in result.output


@pytest.mark.parametrize("args, learnable", [([], None), (["--learnable-weights"], True), (["--fixed-weights"], False),
                                             (["--learnable-contributions"], True),
                                             (["--no-learnable-contributions"], False)])
def test_both_commands_accept_both_names_of_the_learnable_weights_flag(args, learnable):
    """The 2D command says --learnable-contributions (default on), the image command --learnable-weights
    (default off); each accepts the other's names for the same switch."""
    from examples.sintrovae_images import main as images_main
    for command, name, default in ((main, "learnable_contributions", True),
                                   (images_main, "learnable_weights", False)):
        context = command.make_context("command", list(args), resilient_parsing=True)
        assert context.params[name] is (default if learnable is None else learnable)


@pytest.mark.slow
def test_sigterm_checkpoints_at_the_next_iteration_and_the_resumed_run_matches(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, EXP_LOG_PATH=str(tmp_path / "a"), TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, os.path.join(repo, "examples", "sintrovae_2d.py")] + FLAGS,
                               cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    progress = tmp_path / "a" / RUN / "progress.csv"
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline and (
            not progress.exists() or len(progress.read_text().splitlines()) < 3):  # header + 2 rows: mid-run
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, out + err
    match = re.search(r"Stopped by SIGTERM at iteration (\d+); checkpoint saved in \S+\. Run the same command again "
                      r"to resume\.", out)
    assert match and 20 <= int(match.group(1)) < 90, out
    assert "Traceback" not in err and not (tmp_path / "a" / RUN / "eval.json").exists()
    assert "at iteration %s" % match.group(1) in _invoke(tmp_path / "a")
    _invoke(tmp_path / "b")
    resumed = json.loads((tmp_path / "a" / RUN / "eval.json").read_text())
    uninterrupted = json.loads((tmp_path / "b" / RUN / "eval.json").read_text())
    for key in ("kl", "jsd", "gnelbo", "entropy"):
        assert resumed[key] == pytest.approx(uninterrupted[key], rel=1e-5), key


@pytest.mark.slow
def test_a_resume_from_an_older_checkpoint_keeps_progress_and_tensorboard_steps_global(tmp_path):
    """Rows and TensorBoard scalars logged after the checkpoint a run resumes from are replaced, not repeated, and
    TensorBoard steps are iterations (they used to restart at 1 after every resume)."""
    import tensorflow as tf
    from test_legacy_commands import tensorboard_scalars
    flags = [f for f in FLAGS]
    flags[flags.index("--checkpoint-every") + 1] = "20"
    run_dir = tmp_path / "a" / RUN

    def invoke(root, *extra):
        result = CliRunner().invoke(main, flags + list(extra), env={"EXP_LOG_PATH": str(root)})
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    invoke(tmp_path / "a", "--stop-after", "50")                 # checkpoints at 20, 40 and 50
    newest = tf.train.latest_checkpoint(str(run_dir / "ckpt"))
    data = newest + ".data-00000-of-00001"
    with open(data, "r+b") as stream:                            # the newest is damaged: resume from 40
        stream.truncate(os.path.getsize(data) // 2)
    assert "at iteration 40" in invoke(tmp_path / "a")
    invoke(tmp_path / "b")
    rows = list(csv.DictReader(open(run_dir / "progress.csv")))
    assert [int(float(r["iteration"])) for r in rows] == list(range(10, 100, 10))
    assert [json.loads(line)["iteration"] for line in open(run_dir / "progress.json")] == list(range(10, 100, 10))
    resumed, uninterrupted = tensorboard_scalars(str(run_dir / "tb")), tensorboard_scalars(str(tmp_path / "b" / RUN / "tb"))
    assert [step for step, _ in resumed["iteration"]] == list(range(10, 100, 10))
    assert set(resumed) == set(uninterrupted)
    for tag in resumed:
        assert [s for s, _ in resumed[tag]] == [s for s, _ in uninterrupted[tag]], tag
        if tag == "it_per_s":  # a speed, not a result
            continue
        assert [v for _, v in resumed[tag]] == pytest.approx([v for _, v in uninterrupted[tag]], rel=1e-4, abs=1e-6), tag


def test_the_vae_baseline_uses_the_authors_vae_betas_by_default(tmp_path):
    """athaioan/intro_prior 2D/utils/configs.py `get_config`: model 'VAE' (num_vae = num_iter) has its own
    beta_rec / beta_kl per data set; 'sIntroVAE' has the S-IntroVAE ones. Explicit flags always win."""
    from utils.training.toy import resolve_betas
    vae = {"8Gaussian": (0.8, 0.05), "spiral": (1.0, 0.05), "checkerboard": (0.8, 0.1), "rings": (0.8, 0.05)}
    sintrovae = {"8Gaussian": (0.2, 0.3, 0.9), "spiral": (0.2, 0.5, 1.0), "checkerboard": (0.2, 0.1, 0.2),
                 "rings": (0.2, 0.2, 1.0)}
    for dataset in vae:
        assert resolve_betas(dataset, 30000, 2000) == sintrovae[dataset]
        assert resolve_betas(dataset, 30000, 30000)[:2] == vae[dataset]
        assert resolve_betas(dataset, 100, 500)[:2] == vae[dataset]
    assert resolve_betas("rings", 30000, 30000, beta_rec=0.3) == (0.3, 0.05, 1.0)
    assert resolve_betas("rings", 30000, 2000, beta_kl=0.7, beta_neg=2.0) == (0.2, 0.7, 2.0)
    # the command resolves them the same way: the run folder of the VAE baseline names the VAE betas (a finished
    # run there is recognised, so nothing is trained)
    run_dir = tmp_path / "sintrovae2d/spiral/vae_vamp4_lc1_ip1_swg1_clip1_r0_b1-0.05-1_it10_vae10/seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "eval.json").write_text("{}")
    result = CliRunner().invoke(main, ["--dataset", "spiral", "--iterations", "10", "--warmup", "10",
                                       "--num-components", "4", "--batch-size", "16", "--eval-grid", "8",
                                       "--eval-mc", "2", "--no-xla", "--device", "cpu"],
                                env={"EXP_LOG_PATH": str(tmp_path)})
    assert result.exit_code == 0 and "is finished" in result.output and str(run_dir) in result.output
