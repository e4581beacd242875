"""The image Soft-IntroVAE run behind examples/sintrovae_images.py (athaioan/intro_prior images/): the run
(model, data, the authors' epoch schedule, checkpoints, the model selection of `selection_epochs`), its
evaluation (utils/metrics/images.py, FD-LeNet, FID with an Inception graph, the authors' test ELBO) and its PNG
grids. The command holds only the flags.
"""
import io
import math
import os
import time

import numpy as np

DATASETS = ("mnist", "fashion_mnist", "cifar10")
# The authors' model selection (TI:175-231): FID at the start of epoch 0, of every epoch >= fid_start (60) that
# is a multiple of fid_iter (40), and of the last epoch, in a 220-epoch run; the best one is evaluated.
AUTHORS_EPOCHS, AUTHORS_SELECTION_EPOCHS = 220, (80, 120, 160, 200)
SELECTION_FILE, BEST_FOLDER = "model_selection.json", "ckpt_best"
LR_MILESTONES = (350,)  # MultiStepLR(milestones=(350,)) per epoch: never reached in 220 epochs (TI)


def config_name(prior, num_components, learnable_weights, intro_prior, sampling_with_grad, responsibility_weight,
                mc, warmup_epochs, mog_warmup, batch_size, default_batch, subset, max_steps_per_epoch):
    """Run folder name: the prior and the switches, then only the settings that differ from the authors'."""
    name = "imposed" if prior == "imposed" else "%s%d" % (prior, num_components)
    name += "_lc%d_ip%d_swg%d_r%g" % (learnable_weights, intro_prior, sampling_with_grad, responsibility_weight)
    extras = [("mc", mc, 100), ("warm", warmup_epochs, 20), ("mogwarm", mog_warmup, 5),
              ("bs", batch_size, default_batch), ("subset", subset, None), ("steps", max_steps_per_epoch, None)]
    for label, value, default in extras:
        if value != default:
            name += "_%s%s" % (label, value)
    return name


def selection_epochs(epochs):
    """Epochs at whose start (after that many epochs of training) the model is scored for the selection:
    0, 80, 120, 160, 200 and epochs - 1 for the authors' 220; for other lengths each of 80..200 is scaled by
    epochs / 220 and rounded (e.g. 0, 1, 2 for 3 epochs; 0, 36, 55, 73, 91, 99 for 100)."""
    points = {0, epochs - 1}
    for epoch in AUTHORS_SELECTION_EPOCHS:
        points.add(min(int(math.floor(epoch * epochs / AUTHORS_EPOCHS + 0.5)), epochs - 1))
    return sorted(points)


def phase_schedule(options):
    """The image schedule in epochs (methods/phase_schedule.py): VampPrior -> MoG at --warmup-epochs minus
    --mog-warmup, the adversarial phase at --warmup-epochs, and the prior Adam re-created at
    max(warmup - mog_warmup, 0) when the prior is learned with --intro-prior (TI:153-166)."""
    from methods.phase_schedule import PhaseSchedule
    return PhaseSchedule(options["warmup_epochs"], options["mog_warmup"], total=options["epochs"],
                         reset_prior_optimizer=True)


def image_grid(images, columns=8):
    """[N,H,W,C] in [0,1] -> one [rows*H, columns*W, C] grid (empty cells black)."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    count, height, width, channels = images.shape
    rows = int(math.ceil(count / columns))
    grid = np.zeros((rows * height, columns * width, channels), np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = images[index]
    return grid


def write_png_atomic(path, grid):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plumbing.atomic import write_bytes_atomic
    stream = io.BytesIO()
    plt.imsave(stream, grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    write_bytes_atomic(path, stream.getvalue())


class ImageRun:
    """One training run: the model, its data, the schedule, logging and checkpoints."""

    def __init__(self, options, run_dir):
        import keras
        import tensorflow as tf

        from methods.priors import LatentPrior
        from methods.resnet import IMAGE_CONFIGS, build_encoder_decoder, loss_scale
        from methods.sintrovae import SoftIntroVAE
        from utils.plumbing.checkpoints import RunCheckpoint
        from utils.data.images import load_image_data

        self.options, self.run_dir = options, run_dir
        self.config = IMAGE_CONFIGS[options["dataset"]]
        self.batch_size = options["batch_size"] or self.config.batch_size
        self.data = load_image_data(options["dataset"], options["subset"])
        keras.utils.set_random_seed(options["seed"])
        encoder, decoder = build_encoder_decoder(options["dataset"])
        prior_kind = options["prior"]
        self.prior = LatentPrior(prior_kind, self.config.z_dim, options["num_components"],
                                 data_shape=self.config.image_shape,
                                 learnable_contributions=options["learnable_weights"],
                                 pseudo_input_activation="hardtanh", name="prior")
        self.model = SoftIntroVAE(
            encoder, decoder, self.prior, scale=loss_scale(self.config.image_shape), beta_rec=self.config.beta_rec,
            beta_kl=self.config.beta_kl, beta_neg=self.config.beta_neg, mc=options["mc"],
            intro_prior=options["intro_prior"], sampling_with_grad=options["sampling_with_grad"],
            clip_logvar=True, r_entropy=options["responsibility_weight"], responsibility_samples="kl_real",
            learning_rate=2e-4, prior_learning_rate=2e-4, lr_milestones=LR_MILESTONES,
            jit_compile=options["xla"], seed=options["seed"])
        from utils.data.images import epoch_permutation
        first = epoch_permutation(len(self.data.train_images), options["seed"], 0)
        init_count = max(self.prior.num_components, self.batch_size)
        # 'data' init: the first K images of the shuffled train set (MI:55-84)
        self.model.initialise(self.data.train_images[first[:init_count]])
        self.progress = tf.Variable([0, 0], dtype=tf.int64, trainable=False, name="progress")  # epoch, batch
        self.checkpoint = RunCheckpoint(run_dir, progress=self.progress, **self.model.checkpoint_trackables())
        self.resumed = self.checkpoint.restore_latest()
        if self.resumed:
            self.model.sync_after_restore()
        # the best-scoring model of the selection, kept beside the last checkpoint (no progress counter in it)
        self.best = tf.train.CheckpointManager(tf.train.Checkpoint(**self.model.checkpoint_trackables()),
                                               os.path.join(run_dir, BEST_FOLDER), max_to_keep=1)
        self.selection = self.read_selection()

    def read_selection(self):
        """The selection so far ({'metric', 'scores': {epoch: score}, 'best_epoch'}); empty for a new run."""
        import json
        path = os.path.join(self.run_dir, SELECTION_FILE)
        if not self.resumed or not os.path.exists(path):
            return {"metric": selection_metric(self.options), "scores": {}, "best_epoch": None}
        with open(path) as stream:
            return json.load(stream)

    def score_for_selection(self, epoch, logger):
        """At the start of a selection epoch: score the model (FID of generated images with
        --inception-graph, else FD-LeNet), keep it as the best checkpoint when it scores lowest, record it.
        Scores of an epoch already recorded (a resumed run) are not recomputed."""
        from utils.plumbing.atomic import write_json_atomic
        from utils.plumbing.progress import epoch_label
        if epoch not in selection_epochs(self.options["epochs"]) or str(epoch) in self.selection["scores"]:
            return
        score = generation_scores(self, self.options, with_reconstructions=False)[self.selection["metric"]]
        scores = self.selection["scores"]
        best = self.selection["best_epoch"]
        if best is None or score < scores[str(best)]:
            self.best.save()
            self.selection["best_epoch"] = epoch
        scores[str(epoch)] = score
        write_json_atomic(os.path.join(self.run_dir, SELECTION_FILE), self.selection)
        logger.log("model selection after %d epochs (at the start of %s): %s %.4g (best: after %d epochs)" % (
            epoch, epoch_label(epoch, self.options["epochs"]), self.selection["metric"], score,
            self.selection["best_epoch"]))
        self.checkpoint.save()  # the scoring passes moved BatchNorm statistics, as in the authors' train mode

    def restore_best(self):
        """Load the best-scoring model of the selection (the authors' eval script loads it, EI:52-65) and
        return its epoch; the final model (and its epoch) when the run has no selection (a run folder
        started before the selection existed)."""
        if self.best.latest_checkpoint is None or self.selection["best_epoch"] is None:
            return self.epoch
        self.best.checkpoint.restore(self.best.latest_checkpoint).assert_existing_objects_matched()
        self.model.sync_after_restore()
        return self.selection["best_epoch"]

    @property
    def epoch(self):
        return int(self.progress.numpy()[0])

    @property
    def per_epoch(self):
        """Training steps per epoch (batches of the train set, at most --max-steps-per-epoch)."""
        from utils.data.images import num_batches
        steps = num_batches(len(self.data.train_images), self.batch_size)
        return min(steps, self.options["max_steps_per_epoch"] or steps)

    @property
    def step(self):
        """Training steps made so far: epoch * per_epoch + batch (what --max-steps, --log-every and
        --checkpoint-every count)."""
        epoch, batch = (int(v) for v in self.progress.numpy())
        return epoch * self.per_epoch + batch

    def position(self):
        from utils.plumbing.progress import run_position
        epochs = self.options["epochs"]
        return run_position(self.step, epochs * self.per_epoch, self.epoch, epochs)

    def epoch_start_events(self, epoch):
        """The authors' one-time events at the start of an epoch (`TI:136-166`)."""
        phase_schedule(self.options).begin(self.model, epoch)

    def train(self, logger, scalars, stop_after, stop=None, step_scalars=None):
        """Train to `--epochs`; False when stopped early by --max-steps (total steps: inside an epoch too),
        the old --stop-after (epochs of this invocation) or by `stop` (a GracefulStop: the checkpoint is saved
        at the next iteration). `step_scalars`: the TensorBoard writer of the --log-every rows."""
        from utils.data.images import epoch_batches
        from utils.plumbing.progress import epoch_label, format_postfix, progress_bar
        options = self.options
        images = self.data.train_images
        per_epoch, max_steps, every = self.per_epoch, options["max_steps"], options["checkpoint_every"]
        epochs_this_run = 0
        while self.epoch < options["epochs"]:
            epoch, start_batch = (int(v) for v in self.progress.numpy())
            if stop_after is not None and epochs_this_run >= stop_after:
                return False
            if max_steps is not None and self.step >= max_steps:
                return False
            if start_batch == 0:
                self.epoch_start_events(epoch)
                self.score_for_selection(epoch, logger)
            else:
                self.model.set_schedule_step(epoch)
            self.model.reset_metrics()
            started = time.time()
            bar = progress_bar(per_epoch, epoch_label(epoch, options["epochs"]), initial=start_batch)
            for index, batch in enumerate(epoch_batches(images, self.batch_size, options["seed"], epoch,
                                                        start_batch, per_epoch), start=start_batch):
                values = self.model.train_batch(batch)
                self.progress.assign([epoch, index + 1])
                step = epoch * per_epoch + index + 1
                bar.update(1)
                bar.set_postfix(format_postfix(values))
                if options["log_every"] and step % options["log_every"] == 0:
                    self.log_step(step, values, logger, step_scalars)
                # inside the epoch (its end checkpoints anyway): every --checkpoint-every steps, and at a stop
                stopping = (stop is not None and stop.requested) or (max_steps is not None and step >= max_steps)
                if index + 1 < per_epoch and (stopping or (every and step % every == 0)):
                    self.checkpoint.save()
                if index + 1 < per_epoch and stopping:
                    bar.close()
                    return False
            bar.close()
            seconds = time.time() - started
            self.progress.assign([epoch + 1, 0])
            self.log_epoch(epoch, per_epoch - start_batch, seconds, logger, scalars)
            self.checkpoint.save()
            epochs_this_run += 1
            if stop is not None and stop.requested:
                return False
        return True

    def log_step(self, step, values, logger, step_scalars):
        """A --log-every row: this step's values as a line of the console and log.txt, and as TensorBoard
        scalars at step = iteration in tb/steps/ (the per-epoch rows stay as they are)."""
        from utils.plumbing.progress import epoch_label
        logger.log("iteration %d (%s): %s" % (step, epoch_label(self.epoch, self.options["epochs"]), ", ".join(
            "%s %.4g" % (key, value) for key, value in sorted(values.items()))))
        step_scalars.write({"train/" + key: value for key, value in values.items()}, step)

    def log_epoch(self, epoch, steps, seconds, logger, scalars):
        metrics = {name: float(value) for name, value in self.model.metric_results().items()}
        summary = self.model.prior_summary()
        row = dict(epoch=epoch, phase="adversarial" if self.model.in_adversarial_phase else "vae",
                   prior_kind=self.prior.kind, seconds=seconds, seconds_per_iteration=seconds / max(steps, 1),
                   prior_inactive_modes=summary["prior_inactive_modes"],
                   prior_mog_logvar_mean=float(np.mean(summary["prior_mog_logvar"])), **metrics)
        for key, value in row.items():
            logger.logkv(key, value)
        logger.dumpkvs()
        scalars.write({"train/" + key: value for key, value in row.items() if not isinstance(value, str)}, epoch)
        self.write_images(epoch, scalars)

    def write_images(self, epoch, scalars):
        """8x8 grids of prior samples and of (test image, reconstruction) pairs: TensorBoard and PNG."""
        import tensorflow as tf
        samples = np.asarray(self.model.sample(64, seed=tf.constant([[epoch, 1], [epoch, 2]], tf.int64)))
        originals = self.data.test_images[:32]
        reconstructions = np.asarray(self.reconstruct(originals, seed=epoch))
        pairs = np.stack([originals, reconstructions], axis=1).reshape((-1,) + originals.shape[1:])
        folder = os.path.join(self.run_dir, "images")
        for tag, grid in (("samples", image_grid(samples)), ("reconstructions", image_grid(pairs))):
            with scalars.writer.as_default():
                tf.summary.image(tag, grid[None], step=epoch)
            write_png_atomic(os.path.join(folder, "%s_epoch%03d.png" % (tag, epoch)), grid)
        scalars.writer.flush()

    def reconstruct(self, images, seed):
        """D(z), z = mu + eps*std (the authors' `model(x)`, train-mode BN)."""
        import tensorflow as tf
        mu, logvar = self.model.encode(images)
        eps = tf.random.stateless_normal(tf.shape(mu), [seed, 7])
        return self.model.decoder(mu + tf.exp(0.5 * logvar) * eps, training=True)


def generated_images(model, count, batch_size):
    """`count` decoded prior samples, `batch_size` at a time, with new components and noise for every batch, as
    `sample_noise` in `get_activations_generate` (athaioan/intro_prior images/metrics/fid_score.py)."""
    import tensorflow as tf
    batches = []
    for index, start in enumerate(range(0, count, batch_size)):
        size = min(batch_size, count - start)
        batches.append(np.asarray(model.sample(size, seed=tf.constant([[index, 3], [index, 4]], tf.int64))))
    return np.concatenate(batches)


def selection_metric(options):
    """The score of the model selection: FID of generated images with --inception-graph, else FD-LeNet."""
    return "fid_gen" if options["inception_graph"] else "fd_lenet_gen"


def generation_scores(run, options, with_reconstructions=True):
    """FD-LeNet (and, with --inception-graph, FID) of `--eval-samples` generated images against as many train
    images, precision / recall, and the same distances for reconstructions (`with_reconstructions`). Images
    come from the networks in train mode, as the authors' `calculate_fid_given_dataset(eval_mode=False)`."""
    from methods.feature_classifier import (classifier_accuracy, classifier_features,
                                            load_or_train_feature_classifier)
    from utils.metrics.images import frechet_distance_of_features, precision_recall, quantize_generated
    from utils.plumbing.paths import exp_log_path

    data, model, batch_size = run.data, run.model, run.batch_size
    n = min(options["eval_samples"], len(data.train_images))
    real = data.train_images[np.random.default_rng(options["seed"]).permutation(len(data.train_images))[:n]]
    fakes = quantize_generated(generated_images(model, n, batch_size))
    if getattr(run, "lenet", None) is None:
        # FD-LeNet: a Frechet distance on the features of a small classifier trained here (never called FID)
        cache = os.path.join(exp_log_path(), "sintrovae_images", "feature_classifiers")
        run.lenet = load_or_train_feature_classifier(options["dataset"], data.train_images, data.train_labels, cache)
    real_f, fake_f = (classifier_features(run.lenet, a) for a in (real, fakes))
    results = {"eval_samples": n, "fd_lenet_gen": frechet_distance_of_features(real_f, fake_f)}
    inception = None
    if options["inception_graph"]:
        from utils.metrics.images import InceptionFeatures
        if getattr(run, "inception", None) is None:
            run.inception = InceptionFeatures(options["inception_graph"])
        inception = run.inception
        real_i, fake_i = inception(real), inception(fakes)
        results["fid_gen"] = frechet_distance_of_features(real_i, fake_i)
    if not with_reconstructions:
        return results
    recs = []
    for index, start in enumerate(range(0, n, batch_size)):
        recs.append(np.asarray(run.reconstruct(real[start:start + batch_size], seed=10 ** 6 + index)))
    recs = quantize_generated(np.concatenate(recs))
    rec_f = classifier_features(run.lenet, recs)
    precision, recall = precision_recall(real_f, fake_f)
    results.update(lenet_test_accuracy=classifier_accuracy(run.lenet, data.test_images, data.test_labels),
                   fd_lenet_rec=frechet_distance_of_features(real_f, rec_f),
                   precision_lenet=precision, recall_lenet=recall)
    if inception is not None:
        precision, recall = precision_recall(real_i, fake_i)
        results.update(fid_rec=frechet_distance_of_features(real_i, inception(recs)),
                       precision_inception=precision, recall_inception=recall)
    return results


def refresh_batch_norm(run, options):
    """The authors' `train_BN` (images/metrics/inference_metrics.py): one pass of the whole model, x -> E ->
    z = mu + eps std -> D, in train mode over the shuffled train set in training batches, so that the
    BatchNorm running statistics of encoder and decoder follow real data."""
    from utils.data.images import epoch_batches
    for index, batch in enumerate(epoch_batches(run.data.train_images, run.batch_size, options["seed"],
                                                10 ** 6 + run.epoch)):
        run.reconstruct(batch, seed=2 * 10 ** 6 + index)


def evaluate(run, options):
    """The authors' evaluation of the selected model: the best-scoring checkpoint of the selection is loaded
    (EI:52-65); generation metrics in train mode (EI:149-152); `train_BN` (EI:155); latent classification,
    test ELBO (`calculate_ELBO`: `--mc` z per test image, 100 by default as the authors), assignment entropy."""
    from methods.priors import split_moments
    from utils.metrics.images import latent_classification_accuracy

    data, model, batch_size = run.data, run.model, run.batch_size
    encoder, decoder = model.encoder, model.decoder
    results = {"dataset": options["dataset"], "epochs_trained": run.epoch, "num_components": run.prior.num_components,
               "prior_kind": run.prior.kind, "selection_metric": run.selection["metric"],
               "selection_scores": {int(k): v for k, v in run.selection["scores"].items()}}
    results.update(evaluated_epoch=run.restore_best(), evaluated_prior_kind=run.prior.kind)
    results.update(generation_scores(run, options))
    refresh_batch_norm(run, options)
    rng = np.random.default_rng(options["seed"])

    def sampled_codes(images):
        codes = []
        for start in range(0, len(images), 500):
            mu, logvar = (np.asarray(t) for t in split_moments(encoder(images[start:start + 500], training=False)))
            codes.append(mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape))
        return np.concatenate(codes)
    results.update(latent_classification_accuracy(sampled_codes(data.train_images), data.train_labels,
                                                  sampled_codes(data.test_images), data.test_labels))
    totals = elbo_totals(encoder, decoder, run.prior.params(encoder, training=False), data.test_images,
                              batch_size, options["mc"])
    count = len(data.test_images)
    results.update(test_rec=totals["rec"] / count, test_kl=totals["kl"] / count,
                   test_elbo=-(totals["rec"] + totals["kl"]) / count, assignment_entropy=totals["entropy"] / count,
                   inactive_modes=int(run.prior.inactive_modes().numpy()))
    return results


def elbo_totals(encoder, decoder, prior_params, images, batch_size, mc):
    """Sums over `images` of RE, KL and the assignment entropy, as the authors' `calculate_ELBO` and
    `calculate_entropy_soft_assignment` (images/metrics/inference_metrics.py): networks in eval mode; per
    batch of `batch_size`, mc z per image (rows m*B+i, noise seeded by the batch start), each decoded;
    RE = sum 0.5 (x^ - x)^2 + 0.5 log 2pi (unit-variance Gaussian decoder) and KL = log q(z) - log p(z),
    both averaged over the z; entropy: -negH of the batch's responsibilities (`kl_soft_assignments`) times
    the batch size (0 for one component)."""
    import tensorflow as tf

    from methods.priors import kl_monte_carlo, responsibility_neg_entropy, split_moments
    totals = {"rec": 0.0, "kl": 0.0, "entropy": 0.0}
    dims = float(np.prod(images.shape[1:]))
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        mu, logvar = split_moments(encoder(x, training=False))
        kl, z_s = kl_monte_carlo(mu, logvar, prior_params, mc, seed=tf.constant([start, 11], tf.int32))
        for m in range(mc):
            xr = decoder(z_s[m * len(x):(m + 1) * len(x)], training=False)
            rec = 0.5 * tf.reduce_sum(tf.square(tf.reshape(xr - x, [len(x), -1])), axis=1) + 0.5 * dims * math.log(
                2 * math.pi)
            totals["rec"] += float(tf.reduce_sum(rec)) / mc
        totals["kl"] += float(tf.reduce_sum(kl))
        if int(prior_params[0].shape[0]) > 1:
            totals["entropy"] -= float(responsibility_neg_entropy(z_s, prior_params)) * len(x)
    return totals


def _finished_epochs(eval_path):
    """epochs_trained of an existing eval.json (None when there is none or it is unreadable)."""
    import json
    try:
        with open(eval_path) as stream:
            return int(json.load(stream)["epochs_trained"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_and_evaluate(options, run_dir, name, eval_path, stop):
    from utils.plumbing.atomic import write_json_atomic
    from utils.plumbing.logger import TensorBoardScalars, has_event_files
    from utils.plumbing.run_guard import max_steps_message, resume_message, stopped_message
    import utils.plumbing.logger as logger
    run = ImageRun(options, run_dir)
    max_steps = options["max_steps"]
    logger.reset()
    # rows an interrupted process logged for epochs after its last checkpoint are dropped
    logger.configure(run_dir, ["stdout", "log", "csv", "json"], append=run.resumed, step_key="epoch",
                     resume_step=run.epoch - 1)
    if max_steps is not None and run.step >= max_steps and run.epoch < options["epochs"]:  # reached before
        logger.log(max_steps_message(run.position(), max_steps, run.checkpoint.directory))
        logger.reset()
        return
    # and its TensorBoard events from those epochs (or all of them, killed before its first checkpoint) hidden
    tb_dir = os.path.join(run_dir, "tb")
    scalars = TensorBoardScalars(tb_dir, restart_step=run.epoch if has_event_files(tb_dir) else None)
    step_scalars = None  # the --log-every rows: steps are iterations, so in a folder of their own
    if options["log_every"]:
        steps_dir = os.path.join(tb_dir, "steps")
        step_scalars = TensorBoardScalars(steps_dir, restart_step=run.step + 1 if has_event_files(steps_dir) else None)
    try:
        if run.resumed:
            logger.log(resume_message(run_dir, run.checkpoint.latest, run.position()))
        started = time.time()
        finished = run.train(logger, scalars, options["stop_after"], stop=stop, step_scalars=step_scalars)
        if stop.requested:
            logger.log(stopped_message(stop, run.checkpoint.directory, int(run.model.iteration.numpy())))
            return
        if not finished and max_steps is not None and run.step >= max_steps:
            logger.log(max_steps_message(run.position(), max_steps, run.checkpoint.directory))
            return
        if not finished:
            logger.log("stopped after %d epochs in this run; run the same command again to resume"
                       % options["stop_after"])
            return
        results = evaluate(run, options)
        results.update(config=name, seed=options["seed"], train_seconds_last_run=time.time() - started)
        write_json_atomic(eval_path, results)
        scalars.write({"eval/" + k: v for k, v in results.items() if isinstance(v, (int, float))}, run.epoch)
        logger.log("eval: " + ", ".join("%s=%.4g" % (k, v) for k, v in sorted(results.items())
                                        if isinstance(v, (int, float))))
    finally:
        scalars.close()
        if step_scalars is not None:
            step_scalars.close()
        logger.reset()
