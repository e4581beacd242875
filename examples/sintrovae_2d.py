"""Soft-IntroVAE with a learned prior on the 2D density-estimation benchmark (athaioan/intro_prior 2D/).

    python examples/sintrovae_2d.py --dataset 8Gaussian                       # Vamp->MoG(64), LC, IP, SWG, clip
    python examples/sintrovae_2d.py --dataset 8Gaussian --prior imposed       # S-IntroVAE with N(0, I)
    python examples/sintrovae_2d.py --dataset rings --no-intro-prior --no-learnable-contributions

Trains `--iterations` (30000) iterations of batch 512: `--warmup` (2000) VAE iterations with a VampPrior
that becomes a free MoG `--mog-warmup` (100) iterations before the end of the warm-up, then the S-IntroVAE
encoder / decoder+prior steps; Adam 2e-4 decayed x0.1 at `--lr-milestones` (10000,15000). Then evaluates
(KL, JSD, gnELBO of the authors' `get_quantitatives`) and writes, in
$EXP_LOG_PATH/sintrovae2d/<dataset>/<config>/seed<k>/:
log.txt, progress.csv/json, tb/ (logger), ckpt/ (resume), eval.json, results_log_soft_intro_vae.txt and
samples.png, density.png, prior.png. A finished run is not retrained; an interrupted one resumes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.plumbing.flags import FiniteFloat, OneLineCommand, hidden_alias, shared_run_options  # noqa: E402
from utils.data.toy import DATASETS  # noqa: E402

from utils.training.toy import config_name, parse_milestones, resolve_betas, train_and_evaluate  # noqa: E402

@click.command(cls=OneLineCommand)
@click.option("--dataset", type=click.Choice(DATASETS), default="8Gaussian", show_default=True)
@click.option("--prior", type=click.Choice(["vamp", "mog", "imposed"]), default="vamp", show_default=True,
              help="vamp: VampPrior turned into a MoG during the warm-up (the paper); mog: a MoG from the "
                   "start ('data' init); imposed: N(0, I)")
@click.option("--num-components", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--learnable-contributions/--no-learnable-contributions", "--learnable-weights/--fixed-weights",
              "learnable_contributions", default=True, show_default=True,
              help="learnable mixing weights (LC); the image command's names are accepted too")
@click.option("--intro-prior/--no-intro-prior", default=True, show_default=True,
              help="train the prior with the decoder in the adversarial phase (IP)")
@click.option("--sampling-with-grad/--no-sampling-with-grad", default=None,
              help="reparameterised gradient through prior samples (SWG) [default: same as --intro-prior]")
@click.option("--clip-logvar/--no-clip-logvar", default=True, show_default=True,
              help="adaptive variance clipping of the prior (only with --intro-prior)")
@click.option("--r-entropy", type=FiniteFloat(0.0, 1e6), default=0.0, show_default=True,
              help="responsibility (assignment-entropy) regulariser weight")
@click.option("--mc", type=click.IntRange(1, 10000), default=100, show_default=True,
              help="Monte-Carlo samples of every KL")
@click.option("--beta-rec", type=FiniteFloat(0.0, 1e6, min_open=True), default=None,
              help="[default: per data set, the authors' 2D configs; their VAE rows for the VAE baseline]")
@click.option("--beta-kl", type=FiniteFloat(0.0, 1e6, min_open=True), default=None)
@click.option("--beta-neg", type=FiniteFloat(0.0, 1e6, min_open=True), default=None)
@click.option("--warmup", type=click.IntRange(0, 10 ** 7), default=2000, show_default=True,
              help="VAE warm-up iterations (num_vae); --warmup >= --iterations trains a plain VAE")
@click.option("--mog-warmup", type=click.IntRange(0, 10 ** 7), default=100, show_default=True,
              help="the VampPrior becomes a MoG at iteration warmup - mog_warmup")
@click.option("--lr-milestones", default="10000,15000", show_default=True,
              help="iterations where the learning rate is multiplied by 0.1")
@click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=512, show_default=True)
@click.option("--eval-mc", type=click.IntRange(1, 10000), default=100, show_default=True,
              help="Monte-Carlo samples of the gnELBO evaluation")
@click.option("--eval-grid", type=click.IntRange(2, 4096), default=1024, show_default=True,
              help="points per side of the gnELBO evaluation grid (1024 in the paper)")
@shared_run_options("iterations", 30000, xla=True, log_every=100, checkpoint_every=1000, notes={
    "--iterations": "one batch of --batch-size each", "--log-every": "progress.csv / TensorBoard rows",
    "--checkpoint-every": "also saved at the end and at a stop; 0: only there"}, aliases=[
    hidden_alias("--log-interval", "log_every", click.IntRange(min=1)),          # old spellings, same meaning
    hidden_alias("--checkpoint-interval", "checkpoint_every", click.IntRange(min=1))])
@click.option("--stop-after", type=click.IntRange(min=1), default=None, hidden=True,   # old: --max-steps
              help="stop (with a checkpoint) after this many iterations in this invocation")
@exit_on_user_error
def main(dataset, prior, num_components, learnable_contributions, intro_prior, sampling_with_grad, clip_logvar,
         r_entropy, mc, beta_rec, beta_kl, beta_neg, iterations, warmup, mog_warmup, lr_milestones, batch_size,
         seed, eval_mc, eval_grid, log_every, checkpoint_every, max_steps, stop_after, xla, device):
    milestones = parse_milestones(lr_milestones)
    betas = resolve_betas(dataset, iterations, warmup, beta_rec, beta_kl, beta_neg)
    if sampling_with_grad is None:
        sampling_with_grad = intro_prior
    if prior == "vamp" and warmup < iterations and mog_warmup > warmup:
        raise UserError("--mog-warmup (%d) must not exceed --warmup (%d): the VampPrior becomes a MoG at "
                        "iteration warmup - mog_warmup." % (mog_warmup, warmup))
    if prior != "imposed" and num_components > batch_size:
        raise UserError("--num-components (%d) must not exceed --batch-size (%d): the prior is initialised "
                        "from the first K points of one batch." % (num_components, batch_size))
    if prior == "imposed":
        num_components, learnable_contributions = 1, False
    from utils.plumbing.paths import obtain_log_path
    name = config_name(prior, num_components, learnable_contributions, intro_prior, sampling_with_grad,
                       clip_logvar, r_entropy, betas, mc, iterations, warmup, milestones)
    run_dir = obtain_log_path(os.path.join("sintrovae2d", dataset, name, "seed%d" % seed))
    if os.path.exists(os.path.join(run_dir, "eval.json")):
        print("%s is finished (eval.json exists): nothing to do; delete the folder to run it again." % run_dir)
        return
    from utils.plumbing.devices import setup_device
    from utils.plumbing.run_guard import guarded_run
    setup_device(device)
    with guarded_run(run_dir) as stop:
        train_and_evaluate(run_dir, stop=stop, dataset=dataset, prior_kind=prior, num_components=num_components,
                           learnable_contributions=learnable_contributions, intro_prior=intro_prior,
                           sampling_with_grad=sampling_with_grad, clip_logvar=clip_logvar, r_entropy=r_entropy,
                           mc=mc, betas=betas, iterations=iterations, warmup=warmup, mog_warmup=mog_warmup,
                           milestones=milestones, batch_size=batch_size, seed=seed, eval_mc=eval_mc,
                           eval_grid=eval_grid, log_every=log_every, checkpoint_every=checkpoint_every,
                           max_steps=max_steps, stop_after=stop_after, jit_compile=xla)

if __name__ == "__main__":
    main()
