"""Soft-IntroVAE with a learned prior on images: MNIST, Fashion-MNIST, CIFAR-10 (athaioan/intro_prior images/).

    python examples/sintrovae_images.py --dataset mnist --prior vamp --num-components 10 \\
        --learnable-weights --intro-prior --sampling-with-grad --responsibility-weight 10

The authors' schedule (`TI`): `--warmup-epochs` (20) epochs of VAE training with the prior; with
`--prior vamp` the VampPrior becomes a free MoG at epoch warmup - mog_warmup (20 - 5 = 15); then the S-IntroVAE
encoder / decoder(+prior) steps until `--epochs` (220). Writes
$EXP_LOG_PATH/sintrovae_images/<dataset>/<config>/seed<k>/: log.txt, progress.csv/json, TensorBoard
scalars and image grids (tb/), PNG grids (images/), ckpt/ (resume by running the same command again),
ckpt_best/ and model_selection.json (the authors' model selection: FD-LeNet, or FID when --inception-graph is
given, at the start of epochs 0, 80, 120, 160, 200 and the last; `selection_epochs`), and eval.json (the
metrics of utils/metrics/images.py and FD-LeNet, FID with --inception-graph, on the selected model).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.plumbing.flags import FiniteFloat, OneLineCommand, hidden_alias, shared_run_options  # noqa: E402

from utils.training.images import DATASETS, _finished_epochs, config_name, train_and_evaluate  # noqa: E402

@click.command(cls=OneLineCommand)
@click.option("--dataset", type=click.Choice(DATASETS), default="mnist", show_default=True)
@click.option("--prior", type=click.Choice(["imposed", "mog", "vamp"]), default="vamp", show_default=True,
              help="imposed N(0,I); mog: a MoG from the start (data init E(x_1..K)); vamp: the authors' runs, a "
                   "VampPrior turned into a MoG at epoch warmup - mog_warmup.")
@click.option("--num-components", type=click.IntRange(1, 10000), default=10, show_default=True, help="K")
@click.option("--learnable-weights/--fixed-weights", "--learnable-contributions/--no-learnable-contributions",
              "learnable_weights", default=False, show_default=True,
              help="learnable mixing weights (LC); the 2D command's names are accepted too")
@click.option("--intro-prior/--no-intro-prior", default=False, show_default=True,
              help="train the prior in the decoder step (IP)")
@click.option("--sampling-with-grad/--no-sampling-with-grad", default=None,
              help="reparameterised prior samples in the decoder step (SWG; default: same as --intro-prior)")
@click.option("--responsibility-weight", type=FiniteFloat(0.0), default=0.0, show_default=True,
              help="r of the responsibility (assignment entropy) regulariser; the authors sweep 0, 1, 10, 100")
@click.option("--warmup-epochs", type=click.IntRange(0), default=20, show_default=True,
              help="VAE warm-up epochs (num_vae)")
@click.option("--mog-warmup", type=click.IntRange(0), default=5, show_default=True,
              help="epochs before the end of the warm-up at which the VampPrior becomes a MoG (the authors' 5: "
                   "at epoch 15)")
@click.option("--mc", type=click.IntRange(1), default=100, show_default=True, help="MC samples of every KL")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="default: 128 (MNIST, FMNIST), 32 (CIFAR)")
@click.option("--run-eagerly", is_flag=True,
              help="run the training steps eagerly: no graph build (~30 s saved), slower steps; for tests")
@click.option("--max-steps-per-epoch", type=click.IntRange(1), default=None, help="for tests: cap each epoch")
@click.option("--subset", type=click.IntRange(1), default=None,
              help="for tests: use the first N train and test images")
@click.option("--eval-samples", type=click.IntRange(5), default=10000, show_default=True,
              help="generated / real images for FD-LeNet, FID and precision/recall (authors: 50000)")
@click.option("--inception-graph", type=click.Path(dir_okay=False), default=None,
              help="classify_image_graph_def.pb from inception-2015-12-05.tgz: adds FID(gen), FID(rec) and "
                   "Inception precision/recall to eval.json")
@shared_run_options("epochs", 220, xla=False, log_every=None, checkpoint_every=100, notes={
    "--epochs": "the authors' 220", "--xla": "slower for these convolutions on the CPU",
    "--log-every": "a line of the console and log.txt and TensorBoard scalars (tb/steps/) of that step, besides "
                   "the rows of every epoch", "--log-every default": "every epoch only",
    "--checkpoint-every": "also saved after every epoch and at a stop; 0: only there"},
    aliases=[hidden_alias("--jit-compile/--no-jit-compile", "xla")])                   # old spelling, same meaning
@click.option("--stop-after", type=click.IntRange(min=1), default=None, hidden=True,   # old: --max-steps
              help="train at most N epochs in this invocation")
@exit_on_user_error
def main(**options):
    if options["sampling_with_grad"] is None:
        options["sampling_with_grad"] = options["intro_prior"]
    if options["prior"] == "imposed":
        options["num_components"] = 1
    if options["prior"] == "vamp" and options["mog_warmup"] > options["warmup_epochs"]:
        raise UserError("--mog-warmup (%d) must not exceed --warmup-epochs (%d)."
                        % (options["mog_warmup"], options["warmup_epochs"]))
    from utils.plumbing.devices import setup_device
    setup_device(options["device"])
    if options["inception_graph"]:  # load it now: a wrong file is a one-line error before training, not after it
        from utils.metrics.images import InceptionFeatures
        InceptionFeatures(options["inception_graph"])
    from methods.resnet import IMAGE_CONFIGS
    from utils.plumbing.paths import obtain_log_path

    default_batch = IMAGE_CONFIGS[options["dataset"]].batch_size
    name = config_name(options["prior"], options["num_components"], options["learnable_weights"],
                       options["intro_prior"], options["sampling_with_grad"], options["responsibility_weight"],
                       options["mc"], options["warmup_epochs"], options["mog_warmup"],
                       options["batch_size"] or default_batch, default_batch, options["subset"],
                       options["max_steps_per_epoch"])
    run_dir = obtain_log_path(os.path.join("sintrovae_images", options["dataset"], name, "seed%d" % options["seed"]))
    eval_path = os.path.join(run_dir, "eval.json")
    done = _finished_epochs(eval_path)
    if done is not None and done >= options["epochs"]:
        print("already trained for %d epochs and evaluated: %s" % (done, eval_path))
        return
    if options["run_eagerly"]:
        import tensorflow as tf
        tf.config.run_functions_eagerly(True)
    from utils.data.images import load_image_data
    from utils.plumbing.run_guard import guarded_run
    load_image_data(options["dataset"], options["subset"])  # missing data: one line, before the run folder exists
    with guarded_run(run_dir) as stop:
        train_and_evaluate(options, run_dir, name, eval_path, stop)

if __name__ == "__main__":
    main()
