"""The resumable training / evaluation flow shared by examples/lagvae.py and examples/infovae.py.

Legacy behaviour: 5000 epochs over the 55000 training images in a fixed order, one
step per batch; every `log_every` (1000) iterations the model's log line / table is written from a NEW
batch of the training iterator and the TensorBoard scalars from ANOTHER one (these two batches are not
trained on); then `test()`: test split, then train split, merged into eval.pkl.

Additions: a checkpoint of the whole state (networks, optimizers, multipliers, seed streams, counters)
after every epoch (and every `--checkpoint-every` steps), so the same command resumes an interrupted run
(kill -9 included); `--max-steps` stops (and checkpoints) a run at that total step; a finished run is not
retrained.
"""
import os

import click

from utils.plumbing.errors import UserError
from utils.plumbing.flags import FiniteFloat, OneLineCommand, shared_run_options

DATASETS = ("mnist", "fashion_mnist")
RUN_CONFIG = "config.json"
# the legacy commands' defaults of the shared flags (utils/plumbing/flags.py)
SHARED_OPTIONS = shared_run_options(
    "epochs", 5000, xla=None, log_every=1000, checkpoint_every=0, notes={
        "--epochs": "55000 images; a finished run given a larger value continues",
        "--seed": "of the initial weights, the z / prior samples and the binarisation",
        "--xla": "on the 2-core CPU the plain graph measured 15-25% faster, see bench/bench_lagvae.py",
        "--xla default": "on a GPU, not on the CPU",
        "--log-every": "the legacy log line and the TensorBoard scalars",
        "--checkpoint-every": "checkpoints are also saved after every epoch and at a stop; 0: only there"})


def legacy_command(build_model, method_folder, e1_option, e2_option):
    """The click command of examples/lagvae.py and examples/infovae.py.

    The legacy flags `--z_dim --mi --e1 --e2 --test` (the two commands differ only in the defaults and
    meaning of e1 / e2, passed in as click options), then the flags added here. `build_model(**kwargs)`
    makes the model; runs go to `$EXP_LOG_PATH/<method_folder>/v1/...`.
    """
    from utils.plumbing.errors import exit_on_user_error

    options = [
        click.option("--z_dim", type=click.IntRange(1, 4096), default=64, show_default=True),
        click.option("--mi", type=FiniteFloat(), default=0.0, show_default=True,
                     help="preference for mutual information (> 0 maximise, <= 0 minimise)"),
        e1_option,
        e2_option,
        click.option("--test", is_flag=True, help="skip training: restore the checkpoint and evaluate"),
        click.option("--dataset", type=click.Choice(DATASETS), default="mnist", show_default=True),
        click.option("--batch-size", type=click.IntRange(1, 10000), default=250, show_default=True),
    ]

    @exit_on_user_error
    def main(**flags):
        run_command(build_model, method_folder, **flags)

    main = SHARED_OPTIONS(main)
    for option in reversed(options):
        main = option(main)
    return click.command(cls=OneLineCommand)(main)


def run_directory(method_folder, dataset, z_dim, mi, e1, e2):
    """The run folder under `$EXP_LOG_PATH` (utils/legacy/runs.py: `run_directory`), with the legacy trailing '/'."""
    from utils.legacy.runs import run_directory as legacy_run_directory
    from utils.plumbing.paths import exp_log_path
    method = {"lvae": "lagvae", "infovae": "infovae"}[method_folder]
    return os.path.join(legacy_run_directory(exp_log_path(), method, z_dim, mi, e1, e2, dataset), "")


def check_run_config(logdir, config):
    """The first run of a directory records the flags that shape training; later runs must agree."""
    from utils.plumbing.atomic import write_json_atomic
    import json
    path = os.path.join(logdir, RUN_CONFIG)
    if not os.path.exists(path):
        write_json_atomic(path, config)
        return
    with open(path) as stream:
        recorded = json.load(stream)
    for key in ("dataset", "batch_size", "seed"):
        if key in recorded and recorded[key] != config[key]:
            raise UserError("%s was started with --%s %s, not %s: use the same value or delete the folder to "
                            "start again." % (logdir, key.replace("_", "-"), recorded[key], config[key]))


class LegacyRun:
    """One run directory: model, data, counters, checkpoint, logger and TensorBoard writer."""

    def __init__(self, model, logdir, dataset, batch_size, seed):
        import tensorflow as tf
        from utils.plumbing.checkpoints import RunCheckpoint
        from utils.data.mnist import load_mnist_arrays, read_mnist
        self.tf = tf
        self.model = model
        self.logdir = logdir
        with tf.device("/CPU:0"):  # tf.data runs on the CPU: keep the binarisation stream there (utils/data/mnist.py)
            self.generator = tf.random.Generator.from_seed(seed + 1)
            self.epoch_start_state = tf.Variable(self.generator.state, trainable=False, name="epoch_start_state")
        self.train_data, self.test_data = read_mnist(dataset, batch_sizes=(batch_size, batch_size),
                                                     generator=self.generator)
        # (the pipeline's cardinality is unknown to tf.data: it is built with flat_map)
        self.batches_per_pass = -(-len(load_mnist_arrays(dataset).train.images) // batch_size)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        self.batches_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches_in_epoch")
        self.checkpoint = RunCheckpoint(logdir, data_generator=self.generator, epoch=self.epoch,
                                        iteration=self.iteration, batches_in_epoch=self.batches_in_epoch,
                                        epoch_start_state=self.epoch_start_state, **model.checkpoint_trackables())

    # ------------------------------------------------------------------ training
    def train(self, epochs, log_every, max_steps, logger, scalars, stop=None, checkpoint_every=0):
        """Train until `epochs` are done, the iteration counter reaches `max_steps` or `stop` (a
        utils.plumbing.stop_signals.GracefulStop) is requested; a checkpoint is saved in every case, after every
        epoch and every `checkpoint_every` iterations. True when finished."""
        from utils.plumbing.progress import epoch_label, format_postfix, progress_bar
        model = self.model
        while int(self.epoch.numpy()) < epochs:
            if max_steps is not None and int(self.iteration.numpy()) >= max_steps:
                return False
            if stop is not None and stop.requested:
                return False
            consumed = int(self.batches_in_epoch.numpy())
            if consumed == 0:
                self.epoch_start_state.assign(self.generator.state)
            else:  # resume inside an epoch: same pass seed, skip what was already drawn
                self.generator.reset(self.epoch_start_state)
            batches = iter(self.train_data.skip(consumed) if consumed else self.train_data)
            iteration = int(self.iteration.numpy())
            epoch = int(self.epoch.numpy())
            bar = progress_bar(self.batches_per_pass, epoch_label(epoch, epochs), initial=consumed)
            model.reset_metrics()
            stopped = False
            for x in batches:
                metrics = model.train_batch(x)
                iteration += 1
                consumed += 1
                bar.update(1)
                if iteration % log_every == 0:
                    consumed += self._log(iteration, batches, logger, scalars)
                if iteration % 20 == 0 or consumed >= self.batches_per_pass:
                    bar.set_postfix(format_postfix({k: v.numpy() for k, v in metrics.items()}), refresh=False)
                if (max_steps is not None and iteration >= max_steps) or (stop is not None and stop.requested):
                    stopped = consumed < self.batches_per_pass
                    break
                if checkpoint_every and iteration % checkpoint_every == 0 and consumed < self.batches_per_pass:
                    self.iteration.assign(iteration)  # a checkpoint inside the epoch, as a --max-steps stop saves
                    self.batches_in_epoch.assign(consumed)
                    self.checkpoint.save()
            bar.close()
            self.iteration.assign(iteration)
            if stopped:
                self.batches_in_epoch.assign(consumed)
            else:
                self.epoch.assign_add(1)
                self.batches_in_epoch.assign(0)
            self.checkpoint.save()
        return True

    def _log(self, iteration, batches, logger, scalars):
        """Legacy `_log`: one new batch for the log line / table, another for TensorBoard. Returns the number
        of batches drawn (the epoch ends when the iterator runs out, as the legacy OutOfRangeError did)."""
        drawn = 0
        for write in (lambda values: self.model.write_log(logger, iteration, values),
                      lambda values: scalars.write({"train/" + key: values[key] for key in self.model.summary_keys},
                                                   iteration)):
            x = next(batches, None)
            if x is None:
                break
            drawn += 1
            write(self.model.quantities_on_batch(x))
        return drawn

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, logger):
        """Legacy `test()`: test split then train split; each merged into eval.pkl and printed as a table."""
        from utils.plumbing.results import write_evaluation
        merged = {}
        for prefix, data in (("test_", self.test_data), ("train_", self.train_data)):
            results = {prefix + key: value for key, value in self.model.evaluate_split(data).items()}
            logger.logkvs(results)
            logger.dumpkvs()
            merged = write_evaluation(self.logdir, results)
        return merged

    def evaluation_complete(self):
        from utils.plumbing.results import read_evaluation
        present = read_evaluation(self.logdir)
        return all(prefix + key in present for prefix in ("test_", "train_") for key in self.model.evaluation_keys)


def run_command(build_model, method_folder, z_dim, mi, e1, e2, test, epochs, seed, dataset, batch_size, log_every,
                device, max_steps, xla=None, checkpoint_every=0):
    """Everything after flag parsing for both commands."""
    from utils.plumbing.devices import setup_device
    logdir = run_directory(method_folder, dataset, z_dim, mi, e1, e2)
    if test and not os.path.isdir(os.path.join(logdir, "ckpt")):
        raise UserError("no checkpoint in %s: train this configuration first (the same command without --test)."
                        % logdir)
    device_name = setup_device(device)
    print("Using device %s" % device_name)
    if xla is None:  # XLA pays off on GPUs; on the benchmark CPU the plain graph is faster
        xla = device_name != "CPU"
    from utils.data.mnist import load_mnist_arrays
    from utils.plumbing.run_guard import guarded_run
    load_mnist_arrays(dataset)  # missing or damaged data files fail here, before the run folder is made
    with guarded_run(logdir) as stop:
        _run_locked(build_model, method_folder, logdir, z_dim, mi, e1, e2, test, epochs, seed, dataset, batch_size,
                    log_every, max_steps, xla, stop, checkpoint_every)


def _run_locked(build_model, method_folder, logdir, z_dim, mi, e1, e2, test, epochs, seed, dataset, batch_size,
                log_every, max_steps, xla, stop, checkpoint_every):
    import keras
    from utils.plumbing import logger
    from utils.plumbing.logger import TensorBoardScalars, has_event_files
    from utils.plumbing.progress import run_position
    from utils.plumbing.run_guard import max_steps_message, resume_message, stopped_message
    check_run_config(logdir, dict(method=method_folder, z_dim=z_dim, mi=mi, e1=e1, e2=e2, dataset=dataset,
                                  batch_size=batch_size, seed=seed))
    keras.utils.set_random_seed(seed)
    model = build_model(mi=mi, e1=e1, e2=e2, z_dim=z_dim, seed=seed, jit_compile=xla)
    run = LegacyRun(model, logdir, dataset, batch_size, seed)
    resumed = run.checkpoint.restore_latest(required=test)
    if logger.Logger.CURRENT is not logger.Logger.DEFAULT:
        logger.reset()
    logger.configure(logdir, format_strs=["stdout", "log"], append=resumed)
    try:
        if not test:
            done_before = int(run.epoch.numpy()) >= epochs
            if done_before and run.evaluation_complete():
                print("%s is already trained for %d epochs and evaluated (eval.pkl); use --test to evaluate again."
                      % (logdir, int(run.epoch.numpy())))
                return
            iteration = int(run.iteration.numpy())
            position = run_position(iteration, epochs_done=int(run.epoch.numpy()), epochs=epochs)
            if not done_before and max_steps is not None and iteration >= max_steps:  # reached before: nothing to do
                print(max_steps_message(position, max_steps, run.checkpoint.directory))
                return
            if resumed and not done_before:
                print(resume_message(logdir, run.checkpoint.latest, position))
            # scalars an earlier process wrote after the checkpoint we resume from (or, killed before its first
            # checkpoint, at all) are hidden from TensorBoard by a restart marker
            scalars = TensorBoardScalars(logdir, restart_step=iteration + 1 if has_event_files(logdir) else None)
            try:
                finished = run.train(epochs, log_every, max_steps, logger, scalars, stop=stop,
                                     checkpoint_every=checkpoint_every)
            finally:
                scalars.close()
            if stop.requested:
                print(stopped_message(stop, run.checkpoint.directory, int(run.iteration.numpy())), flush=True)
                return
            if not finished:
                print(max_steps_message(run_position(int(run.iteration.numpy()), epochs_done=int(run.epoch.numpy()),
                                                     epochs=epochs), max_steps, run.checkpoint.directory))
                return
        run.evaluate(logger)
    finally:  # close log.txt without the 'Reset logger' line that logger.reset() prints
        logger.Logger.CURRENT.close()
        logger.Logger.CURRENT = logger.Logger.DEFAULT
