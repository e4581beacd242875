"""Readers of legacy run directories, on files written here in the legacy formats (spec 1.8-1.10, 3),
and the TF1 checkpoint -> Keras mapping on a checkpoint written by the TF1 layers in graph mode."""
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from utils.legacy import runs as legacy_runs
from utils.plumbing.errors import UserError


def write_eval(folder, values):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "eval.pkl"), "wb") as stream:
        pickle.dump({k: np.float32(v) for k, v in values.items()}, stream)


def test_folder_names_round_trip_including_negative_mi():
    assert legacy_runs.config_folder_name(-1, 86, 5.0) == "-1.0-86.0-5.0"
    assert legacy_runs.parse_config_folder("-1.0-86.0-5.0") == (-1.0, 86.0, 5.0)
    assert legacy_runs.parse_config_folder("1.0-0.1-1e-05") == (1.0, 0.1, 1e-05)
    assert legacy_runs.parse_config_folder("ckpt") is None
    assert legacy_runs.run_directory("/r", "infovae", 64, 1, 1, 1) == "/r/infovae/v1/64/1.0-1.0-1.0"
    assert legacy_runs.run_directory("/r", "lagvae", 32, -1, 86, 5, "fashion_mnist") == \
        "/r/lvae/v1-fashion_mnist/32/-1.0-86.0-5.0"


def test_the_training_commands_use_the_one_run_directory_rule(monkeypatch):
    from utils.training.legacy import run_directory
    monkeypatch.setenv("EXP_LOG_PATH", "/runs")
    assert run_directory("lvae", "mnist", 64, 1.0, 86.0, 5.0) == "/runs/lvae/v1/64/1.0-86.0-5.0/"
    assert run_directory("infovae", "fashion_mnist", 64, -1.0, 1.0, 0.0) == \
        "/runs/infovae/v1-fashion_mnist/64/-1.0-1.0-0.0/"


def test_find_runs_reads_eval_pkl_and_lists_unfinished_runs(tmp_path):
    root = str(tmp_path)
    write_eval(legacy_runs.run_directory(root, "lagvae", 64, -1.0, 86.0, 5.0),
               dict(train_nll=70.5, train_elbo=15.25, test_nll=80.0, test_elbo=15.0, train_l1=2.0))
    write_eval(legacy_runs.run_directory(root, "infovae", 64, 1.0, 10.0, 1.0),
               dict(train_nll=60.0, train_elbo=30.0, test_nll=66.0, test_elbo=31.0))
    os.makedirs(legacy_runs.run_directory(root, "lagvae", 64, 1.0, 90.0, 5.0))      # interrupted run
    os.makedirs(os.path.join(root, "lvae", "v1", "64", "not-a-config"))
    runs = legacy_runs.find_runs(root)
    assert [(r.method, r.mi, r.e1, r.finished) for r in runs] == [
        ("lagvae", -1.0, 86.0, True), ("lagvae", 1.0, 90.0, False), ("infovae", 1.0, 10.0, True)]
    assert runs[0].consistency("train") == pytest.approx(85.75)
    assert isinstance(runs[0].evaluation["train_nll"], np.float32)
    assert runs[0].value("train_l1") == 2.0 and np.isnan(runs[2].value("train_l1"))
    assert np.isnan(runs[1].consistency("test"))


def test_bad_eval_pkl_and_missing_folder_are_user_errors(tmp_path):
    (tmp_path / "eval.pkl").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a readable eval.pkl"):
        legacy_runs.read_eval_pkl(str(tmp_path))
    with pytest.raises(UserError, match="is not a folder"):
        legacy_runs.find_runs(str(tmp_path / "missing"))


def legacy_table(kvs):
    """HumanOutputFormat.writekvs of the legacy logger (spec 3), np.float32 values printed by str()."""
    keys = {k: k for k in kvs}
    vals = {k: ("%-8.3g" % v) if isinstance(v, float) else str(v) for k, v in kvs.items()}
    kw, vw = max(map(len, keys.values())), max(map(len, vals.values()))
    dashes = "-" * (kw + vw + 7)
    rows = ["| %s%s | %s%s |" % (k, " " * (kw - len(k)), vals[k], " " * (vw - len(vals[k]))) for k in sorted(kvs)]
    return "\n".join([dashes] + rows + [dashes]) + "\n"


def test_log_txt_iteration_lines_and_tables(tmp_path):
    line = "Iteration %d: all %.4f nll %.4f elbo %.4f mmd %f l1 %.4f l2 %.4f"
    text = (line % (1000, 120.5, 100.25, 20.25, 12.5, 1.0999, 0.9) + "\n"
            + line % (2000, 110.0, 92.0, 18.0, 3.25, 1.2, 0.8) + "\n"
            + legacy_table({"elbo": np.float32(25.123457), "nll": np.float32(80.5), "loss": -12.0, "vae_loss": 105.6})
            + legacy_table({"test_elbo": np.float32(17.5), "test_nll": np.float32(71.25)}))
    (tmp_path / "log.txt").write_text(text)
    log = legacy_runs.read_log_txt(str(tmp_path))
    assert log.iterations[0] == dict(iteration=1000, all=120.5, nll=100.25, elbo=20.25, mmd=12.5, l1=1.0999, l2=0.9)
    assert [row["iteration"] for row in log.iterations] == [1000, 2000]
    assert log.tables[0] == {"elbo": pytest.approx(25.123457), "nll": 80.5, "loss": -12.0, "vae_loss": 106.0}
    assert log.tables[1] == {"test_elbo": 17.5, "test_nll": 71.25}


def test_event_files_tf1_simple_values_and_tf2_scalars(tmp_path):
    folder = str(tmp_path)
    # The legacy FileWriter: TFRecord-framed Event protos with Summary.Value(simple_value) (tags train/*).
    with tf.io.TFRecordWriter(os.path.join(folder, "events.out.tfevents.1.legacy")) as writer:
        writer.write(tf.compat.v1.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
        for step, nll in ((2000, 95.5), (1000, 101.25)):
            summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="train/nll", simple_value=nll),
                                                  tf.compat.v1.Summary.Value(tag="train/lambda1", simple_value=1.5)])
            writer.write(tf.compat.v1.Event(step=step, summary=summary).SerializeToString())
    assert legacy_runs.read_event_scalars(folder) == {
        "train/nll": [(1000, 101.25), (2000, 95.5)], "train/lambda1": [(1000, 1.5), (2000, 1.5)]}

    tf2_folder = str(tmp_path / "tb")
    with tf.summary.create_file_writer(tf2_folder).as_default():
        tf.summary.scalar("train/mmd", 4.5, step=3)
    assert legacy_runs.read_event_scalars(tf2_folder) == {"train/mmd": [(3, 4.5)]}


def test_event_scalars_of_a_resumed_run_keep_each_step_once(tmp_path):
    """The reader honours the restart marker of a resumed run as TensorBoard does."""
    from utils.plumbing.logger import TensorBoardScalars
    folder = str(tmp_path)
    first = TensorBoardScalars(folder)
    for step, nll in ((1000, 100.0), (2000, 95.0), (3000, 92.0)):
        first.write({"train/nll": nll}, step)
    first.close()
    resumed = TensorBoardScalars(folder, restart_step=2001)
    resumed.write({"train/nll": 91.5}, 3000)
    resumed.close()
    assert legacy_runs.read_event_scalars(folder) == {"train/nll": [(1000, 100.0), (2000, 95.0), (3000, 91.5)]}


def write_legacy_tf1_checkpoint(logdir, x_batch, z_dim=64):
    """Build the legacy networks exactly as examples/lagvae.py does (tf.make_template + tf.layers.dense),
    train two Adam steps, set random biases, save with the legacy Saver path, return names and outputs."""
    from tf_keras.src.legacy_tf_layers.core import dense   # the TF1 `tf.layers.dense`

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(3)
        x = tf.compat.v1.placeholder(tf.float32, [None, 784])

        def encoder_func(x):
            fc1 = dense(x, 1024, activation=tf.nn.softplus)
            fc2 = dense(fc1, 1024, activation=tf.nn.softplus)
            return dense(fc2, z_dim, activation=tf.identity), dense(fc2, z_dim, activation=tf.identity)

        def decoder_func(z):
            fc1 = dense(z, 1024, activation=tf.nn.softplus)
            fc2 = dense(fc1, 1024, activation=tf.nn.softplus)
            return dense(fc2, 784, activation=tf.identity)

        encoder = tf.compat.v1.make_template("encoder/network", encoder_func)
        decoder = tf.compat.v1.make_template("decoder/network", decoder_func)
        mean, logstd = encoder(x)
        logits = decoder(mean)
        l1 = tf.compat.v1.get_variable("lambda1", [], initializer=tf.compat.v1.constant_initializer(1.0))
        l2 = tf.compat.v1.get_variable("lambda2", [], initializer=tf.compat.v1.constant_initializer(1.0))
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))
        train = tf.compat.v1.train.AdamOptimizer(1e-4, beta1=0.5).minimize(loss)   # Adam slots, as legacy
        # distinct non-zero biases, so that a bias mapped to the wrong layer shows
        set_biases = tf.group(*[v.assign(tf.random.normal(tf.shape(v), stddev=0.1))
                                for v in tf.compat.v1.global_variables() if v.op.name.endswith("/bias")])
        set_lambdas = tf.group(l1.assign(2.5), l2.assign(0.125))
        names = sorted(v.op.name for v in tf.compat.v1.global_variables())
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for _ in range(2):
                session.run(train, {x: x_batch})
            session.run([set_biases, set_lambdas])
            outputs = session.run([mean, tf.exp(logstd), logits], {x: x_batch})
            saver.save(session, save_path=os.path.join(logdir, ""))
    return names, outputs


@pytest.mark.filterwarnings("ignore:`tf.layers.dense` is deprecated")
def test_tf1_checkpoint_loads_into_the_keras_networks(tmp_path):
    from methods.networks import VariationalDecoder, VariationalEncoder
    from utils.legacy.checkpoints import checkpoint_prefix, load_legacy_networks

    logdir = str(tmp_path / "lvae" / "v1" / "64" / "1.0-86.0-5.0")
    os.makedirs(logdir)
    x_batch = (np.random.default_rng(0).uniform(size=(8, 784)) > 0.7).astype(np.float32)
    names, (mean, std, logits) = write_legacy_tf1_checkpoint(logdir, x_batch)
    # The names the mapping relies on, as the TF1 layers under tf.make_template create them.
    for scope, count in (("encoder/network", 4), ("decoder/network", 3)):
        for index in range(count):
            layer = "dense" if index == 0 else "dense_%d" % index
            assert "%s/%s/kernel" % (scope, layer) in names and "%s/%s/bias" % (scope, layer) in names
    assert {"lambda1", "lambda2"} <= set(names)
    assert os.path.exists(os.path.join(logdir, ".index"))            # the Saver's empty-basename prefix
    assert checkpoint_prefix(logdir) == os.path.join(logdir, "")

    encoder, decoder = VariationalEncoder(z_dim=64), VariationalDecoder()
    weights = load_legacy_networks(encoder, decoder, logdir)
    assert weights["lambda1"] == 2.5 and weights["lambda2"] == 0.125
    q = encoder.distribution(x_batch)
    np.testing.assert_allclose(q.mean().numpy(), mean, atol=1e-5)
    np.testing.assert_allclose(q.stddev().numpy(), std, rtol=1e-5)
    np.testing.assert_allclose(decoder(q.mean()).numpy(), logits, atol=1e-4)

    with pytest.raises(UserError, match="--z_dim"):
        load_legacy_networks(VariationalEncoder(z_dim=32), VariationalDecoder(), logdir)
    with pytest.raises(UserError, match="no TF1 checkpoint"):
        checkpoint_prefix(str(tmp_path))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`tf.layers.dense` is deprecated")
def test_legacy_tf1_run_evaluated_by_our_code_and_compared(tmp_path, shared_data_prefix, monkeypatch):
    """A legacy run directory (TF1 checkpoint + eval.pkl + log.txt) -> examples/evaluate.py --out -> compare."""
    from click.testing import CliRunner

    import examples.compare_legacy as compare_legacy
    import examples.evaluate as evaluate
    from utils.metrics import mutual_information

    monkeypatch.setenv("DATA_PREFIX", shared_data_prefix)
    for name, value in (("KDE_FIT_SAMPLES", 3000), ("KDE_EVAL_SAMPLES", 500), ("AGGREGATE_SAMPLES", 2000)):
        monkeypatch.setattr(mutual_information, name, value)
    monkeypatch.setattr(mutual_information.mutual_information_estimates, "__defaults__", (None, 500, 2000))
    legacy_root, out_root = str(tmp_path / "legacy"), str(tmp_path / "evaluated")
    logdir = legacy_runs.run_directory(legacy_root, "lagvae", 64, 1.0, 86.0, 5.0)
    os.makedirs(logdir)
    write_legacy_tf1_checkpoint(logdir, np.zeros((2, 784), np.float32))
    write_eval(logdir, dict(train_nll=500.0, train_elbo=40.0, test_nll=510.0, test_elbo=41.0, train_l1=2.5))
    (tmp_path / "legacy" / "lvae" / "v1" / "64" / "1.0-86.0-5.0" / "log.txt").write_text(
        "Iteration 1000: all 540.0000 nll 500.0000 elbo 40.0000 mmd 9.000000 l1 2.5000 l2 0.1250\n")

    result = CliRunner().invoke(evaluate.main, [logdir, "--device", "cpu"])
    assert result.exit_code == 2 and "pass --out" in result.output
    result = CliRunner().invoke(evaluate.main, [logdir, "--out", out_root, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    ours = legacy_runs.read_eval_pkl(legacy_runs.run_directory(out_root, "lagvae", 64, 1.0, 86.0, 5.0))
    assert ours["train_l1"] == np.float32(2.5) and ours["test_l2"] == np.float32(0.125)   # restored multipliers
    for split in ("train", "test"):
        assert ours["%s_consistency" % split] == pytest.approx(ours["%s_nll" % split] + ours["%s_elbo" % split])
        # the rate recomputed from the encoder outputs estimates the same quantity as the legacy `elbo` key
        assert ours["%s_mi_rate" % split] == pytest.approx(ours["%s_elbo" % split], rel=0.05)
        assert ours["%s_mi_aggregate" % split] <= ours["%s_mi_aggregate_ceiling" % split] + 1e-4
    assert ours["test_mi_aggregate_ceiling"] == pytest.approx(np.log(2000))
    assert legacy_runs.read_eval_pkl(logdir)["train_nll"] == np.float32(500.0)     # legacy folder untouched

    result = CliRunner().invoke(compare_legacy.main, ["--legacy-logs", legacy_root, "--logs", out_root])
    assert result.exit_code == 0, result.output
    assert "lagvae z=64 mi=1 e1=86 e2=5" in result.output
    assert "iteration 1000, -ELBO 540.00, l1 2.500" in result.output
    line = [l for l in result.output.splitlines() if l.strip().startswith("train_nll")][0].split()
    assert float(line[1]) == 500.0 and float(line[2]) == pytest.approx(float(ours["train_nll"]), abs=1e-3)
