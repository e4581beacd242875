"""The 2D Soft-IntroVAE run behind examples/sintrovae_2d.py (authors' 2D script): the authors' per-data-set
betas, the run folder's name, the model, and the resumable train-then-evaluate loop (KL, JSD, gnELBO, figures).
The command holds only the flags.
"""
import os
import time

from utils.plumbing.errors import UserError

# S-IntroVAE (beta_rec, beta_kl, beta_neg) per data set (authors' 2D/utils/configs.py `get_config`, the
# Soft-IntroVAE recommendations).
DEFAULT_BETAS = {"8Gaussian": (0.2, 0.3, 0.9), "spiral": (0.2, 0.5, 1.0), "checkerboard": (0.2, 0.1, 0.2),
                 "rings": (0.2, 0.2, 1.0)}
# The VAE rows of the same `get_config` (num_vae = num_iter): their own (beta_rec, beta_kl); beta_neg is unused.
VAE_BETAS = {"8Gaussian": (0.8, 0.05), "spiral": (1.0, 0.05), "checkerboard": (0.8, 0.1), "rings": (0.8, 0.05)}


def resolve_betas(dataset, iterations, warmup, beta_rec=None, beta_kl=None, beta_neg=None):
    """(beta_rec, beta_kl, beta_neg): the given values, else the authors' per-data-set defaults, those of their
    VAE configs for the plain VAE baseline (--warmup >= --iterations); beta_neg keeps the S-IntroVAE value."""
    defaults = DEFAULT_BETAS[dataset]
    if warmup >= iterations:
        defaults = VAE_BETAS[dataset] + defaults[2:]
    return tuple(default if value is None else value
                 for value, default in zip((beta_rec, beta_kl, beta_neg), defaults))
LOG_FORMATS = ["stdout", "log", "json", "csv", "tensorboard"]
RESULTS_FILE = "results_log_soft_intro_vae.txt"


def parse_milestones(text):
    try:
        milestones = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError("--lr-milestones must be comma-separated iteration numbers such as 10000,15000, not %r"
                        % text)
    if any(m <= 0 for m in milestones) or list(milestones) != sorted(milestones):
        raise UserError("--lr-milestones must be increasing positive iteration numbers, not %r" % text)
    return milestones


def config_name(prior, num_components, lc, intro_prior, swg, clip, r_entropy, betas, mc, iterations, warmup,
                milestones):
    """A folder name that says what was run (every flag that changes the result)."""
    if prior == "imposed":
        prior_part = "gauss"
    else:
        prior_part = "%s%d_lc%d_ip%d_swg%d_clip%d_r%g" % (prior, num_components, lc, intro_prior, swg, clip,
                                                          r_entropy)
    model = "vae" if warmup >= iterations else "sintrovae"
    name = "%s_%s_b%g-%g-%g_it%d_vae%d" % (model, prior_part, betas[0], betas[1], betas[2], iterations, warmup)
    if milestones != (10000, 15000):
        name += "_lr" + "-".join(str(m) for m in milestones)
    if mc != 100:
        name += "_mc%d" % mc
    return name


def build_model(dataset, prior_kind, num_components, learnable_contributions, intro_prior, sampling_with_grad,
                clip_logvar, r_entropy, mc, betas, milestones, seed, jit_compile):
    import keras

    from methods.priors import LatentPrior
    from methods.sintrovae import SoftIntroVAE
    from methods.toy_networks import toy_decoder, toy_encoder
    keras.utils.set_random_seed(seed)
    prior = LatentPrior(prior_kind, 2, num_components, data_shape=(2,),
                        learnable_contributions=learnable_contributions)
    return SoftIntroVAE(toy_encoder(), toy_decoder(), prior, scale=0.5, beta_rec=betas[0], beta_kl=betas[1],
                        beta_neg=betas[2], mc=mc, intro_prior=intro_prior, sampling_with_grad=sampling_with_grad,
                        clip_logvar=clip_logvar, r_entropy=r_entropy, responsibility_samples="fresh",
                        learning_rate=2e-4, lr_milestones=milestones, lr_gamma=0.1, jit_compile=jit_compile,
                        merge_passes=True,                   # MLPs: one call on concatenated batches
                        seed=seed)


def train_and_evaluate(run_dir, dataset, prior_kind, num_components, learnable_contributions, intro_prior,
                       sampling_with_grad, clip_logvar, r_entropy, mc, betas, iterations, warmup, mog_warmup,
                       milestones, batch_size, seed, eval_mc, log_every, checkpoint_every, jit_compile,
                       max_steps=None, stop_after=None, eval_grid=1024, stop=None):
    """Train (or resume) the run in `run_dir`, then evaluate; returns the eval record (None when stopped by
    --max-steps (total iterations), the old --stop-after (iterations of this invocation) or by `stop`, a
    utils.plumbing.stop_signals.GracefulStop)."""
    import numpy as np
    import tensorflow as tf

    from methods.phase_schedule import ADVERSARIAL, VAMP_TO_MOG, PhaseSchedule
    from utils.plumbing import logger
    from utils.plumbing.atomic import write_json_atomic, write_text_atomic
    from utils.plumbing.checkpoints import RunCheckpoint
    from utils.plumbing.progress import format_postfix, progress_bar, run_position
    from utils.plumbing.run_guard import max_steps_message, resume_message
    from utils.data.toy import ToyData
    from utils.figures.toy import write_run_figures
    from utils.metrics.toy import evaluate, results_line

    data = ToyData(dataset, seed)
    model = build_model(dataset, prior_kind, num_components, learnable_contributions, intro_prior,
                        sampling_with_grad, clip_logvar, r_entropy, mc, betas, milestones, seed, jit_compile)
    first = data.next_batch(batch_size)
    model.initialise(first[data.rng.permutation(len(first))])   # 'data' init: one shuffled batch, first K
    data_state = tf.Variable(data.get_state(), dtype=tf.string, trainable=False)
    checkpoint = RunCheckpoint(run_dir, data_state=data_state, **model.checkpoint_trackables())
    resumed = checkpoint.restore_latest()
    if resumed:
        data.set_state(data_state.numpy().decode())
        model.sync_after_restore()
    start = int(model.iteration.numpy())
    logger.configure(run_dir, LOG_FORMATS, append=resumed, step_key="iteration", resume_step=start)
    try:
        if max_steps is not None and start >= max_steps and start < iterations:   # reached before: nothing to do
            logger.log(max_steps_message(run_position(start, iterations), max_steps, checkpoint.directory))
            return None
        if resumed:
            logger.log(resume_message(run_dir, checkpoint.latest, run_position(start, iterations)))
        bar = progress_bar(iterations, "sintrovae2d %s" % dataset, initial=start)
        tick, tick_it = time.time(), start
        end = iterations if stop_after is None else min(iterations, start + stop_after)
        end = end if max_steps is None else min(end, max_steps)
        schedule = PhaseSchedule(warmup, mog_warmup, total=iterations)
        for it in range(start, end):
            events = schedule.begin(model, it)
            if VAMP_TO_MOG in events:
                logger.log("iteration %d: VampPrior -> MoG(%d), optimizers reset" % (it, num_components))
            if ADVERSARIAL in events:
                logger.log("iteration %d: adversarial phase%s" % (it, " (prior clipping bounds frozen)"
                                                                  if model.prior.clipping else ""))
            values = model.train_batch(data.next_batch(batch_size))
            bar.update(1)
            done = it + 1
            if done % log_every == 0 or done == iterations:
                now = time.time()
                summary = model.prior_summary()
                logger.logkv("iteration", done)
                logger.logkv("phase", int(model.in_adversarial_phase))   # 0: VAE warm-up, 1: adversarial
                logger.logkv("lr", float(model.optimizer_e.learning_rate))
                logger.logkv("it_per_s", (done - tick_it) / max(now - tick, 1e-9))
                for key, value in model.metric_results().items():
                    logger.logkv(key, float(value))
                for dim, value in enumerate(summary["prior_mog_logvar"]):
                    logger.logkv("prior_mog_logvar_%d" % dim, float(value))
                logger.logkv("prior_inactive_modes", summary["prior_inactive_modes"])
                logger.dumpkvs()
                model.reset_metrics()
                bar.set_postfix(format_postfix({k: v for k, v in values.items() if k in ("lossE", "lossD",
                                                                                         "loss_vae")}))
                tick, tick_it = now, done
            signalled = stop is not None and stop.requested
            if (checkpoint_every and done % checkpoint_every == 0) or done == end or signalled:
                data_state.assign(data.get_state())
                checkpoint.save()
            if signalled:
                from utils.plumbing.run_guard import stopped_message
                bar.close()
                logger.log(stopped_message(stop, checkpoint.directory, done))
                return None
        bar.close()
        if end < iterations and max_steps is not None and end >= max_steps:
            logger.log(max_steps_message(run_position(end, iterations), max_steps, checkpoint.directory))
            return None
        if end < iterations:
            logger.log("Stopped at iteration %d of %d (--stop-after); run the same command to continue" % (
                end, iterations))
            return None
        logger.log("Evaluating (the authors' KL, JSD, gnELBO on the 1024x1024 grid)")
        began = time.time()
        results, grid_losses = evaluate(model, data, mc=eval_mc, seed=seed, grid_points=eval_grid)
        eval_seconds = time.time() - began
        write_text_atomic(os.path.join(run_dir, RESULTS_FILE), results_line(results, betas[1], betas[2],
                                                                            betas[0], seed))
        real = data.next_batch(1024)
        fake = model.sample(1024, seed=tf.constant([[seed, seed], [7, 8]], tf.int64)).numpy()
        latents = model.encode(tf.constant(real))[0].numpy()
        figures = write_run_figures(run_dir, real, fake, grid_losses, data.grid_scale,
                                    [p.numpy() for p in model.prior.params(model.encoder)], latents)
        summary = model.prior_summary()
        record = dict(results, gnelbo_x1e7=results["gnelbo"] * 1e7, dataset=dataset, seed=seed,
                      iterations=iterations, warmup=warmup, mog_warmup=mog_warmup, milestones=list(milestones),
                      prior=prior_kind, num_components=num_components, learnable_contributions=learnable_contributions,
                      intro_prior=intro_prior, sampling_with_grad=sampling_with_grad, clip_logvar=clip_logvar,
                      r_entropy=r_entropy, mc=mc, eval_mc=eval_mc, eval_grid=eval_grid, beta_rec=betas[0],
                      beta_kl=betas[1], beta_neg=betas[2], batch_size=batch_size, eval_seconds=eval_seconds,
                      prior_inactive_modes=summary["prior_inactive_modes"],
                      figures=[os.path.basename(p) for p in figures], finite=bool(np.isfinite(
                          [results[k] for k in ("gnelbo", "kl", "jsd")]).all()))
        write_json_atomic(os.path.join(run_dir, "eval.json"), record)
        logger.log("gnELBO %.4e (x1e7 %.4f)  KL %.4f  JSD %.4f  sample_entropy %.4f  (evaluation %.1f s)" % (
            results["gnelbo"], results["gnelbo"] * 1e7, results["kl"], results["jsd"], results["entropy"],
            eval_seconds))
    finally:
        logger.reset()
    return record
