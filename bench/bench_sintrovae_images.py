"""Speed of the image Soft-IntroVAE: seconds per adversarial iteration (E-step + D/P-step) with MoG(K),
MC 100, LC, IP, SWG, clipping and responsibility weight r = 10, at the MNIST shape (batch 128, z 32) and the
CIFAR-10 shape (batch 32, z 128), on random images in [0, 1].

    python bench/bench_sintrovae_images.py [--shape mnist|cifar10|both] [--iterations 3] [--xla] [--device auto]

The authors' PyTorch model does ~15 s/iteration (MNIST shape) and ~10 s/iteration (CIFAR shape) on the
2-core benchmark machine (measured outside this repository). Also prints the convolution/matmul FLOPs of
one iteration (TF profiler on the forward networks; backward counted as 2x forward) and what a full
220-epoch run would take here and, as an ESTIMATE from FLOPs only, on one modern GPU at an assumed
sustained throughput.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import exit_on_user_error  # noqa: E402
from utils.plumbing.flags import FiniteFloat, OneLineCommand, shared_run_options  # noqa: E402

TRAIN_IMAGES = {"mnist": 60000, "cifar10": 50000}
# Network passes per adversarial iteration (T2:206-346): E-step 3 encoder + 4 decoder forwards,
# D-step 2 encoder + 4 decoder forwards; each pass is on a gradient path (backward ~ 2x forward).
ENCODER_PASSES, DECODER_PASSES, FORWARD_BACKWARD = 5, 8, 3.0


def forward_flops(network, input_shape):
    """Float operations of one forward pass (TF profiler on the traced graph: Conv2D, MatMul, ...)."""
    import tensorflow as tf
    function = tf.function(lambda x: network(x, training=False)).get_concrete_function(
        tf.TensorSpec(input_shape, tf.float32))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(function.graph, options=options).total_float_ops


def bench_shape(dataset, iterations, components, mc, xla, gpu_tflops, seed=0, log_every=None):
    import keras
    import numpy as np

    from utils.plumbing.progress import rate_line

    from methods.priors import LatentPrior
    from methods.resnet import IMAGE_CONFIGS, build_encoder_decoder, loss_scale
    from methods.sintrovae import SoftIntroVAE

    config = IMAGE_CONFIGS[dataset]
    keras.utils.set_random_seed(seed)
    encoder, decoder = build_encoder_decoder(dataset)
    prior = LatentPrior("vamp", config.z_dim, components, data_shape=config.image_shape,
                        learnable_contributions=True, pseudo_input_activation="hardtanh")
    model = SoftIntroVAE(encoder, decoder, prior, loss_scale(config.image_shape), config.beta_rec,
                         config.beta_kl, config.beta_neg, mc=mc, intro_prior=True, sampling_with_grad=True,
                         clip_logvar=True, r_entropy=10.0, responsibility_samples="kl_real", jit_compile=xla,
                         seed=seed)
    rng = np.random.default_rng(seed)
    batches = [rng.random((config.batch_size,) + config.image_shape).astype(np.float32)
               for _ in range(iterations + 1)]
    model.initialise(rng.random((max(components, config.batch_size),) + config.image_shape).astype(np.float32))
    model.convert_vamp_to_mog()
    model.start_adversarial_phase()
    began = time.time()
    model.train_batch(batches[0])
    compile_s = time.time() - began
    wall, cpu = time.time(), time.process_time()
    for index, x in enumerate(batches[1:], start=1):
        model.train_batch(x)
        if log_every and index % log_every == 0:
            print(rate_line(index, iterations, time.time() - wall), flush=True)
    wall, cpu = (time.time() - wall) / iterations, (time.process_time() - cpu) / iterations
    network_flops = config.batch_size * FORWARD_BACKWARD * (
        ENCODER_PASSES * forward_flops(encoder, (1,) + config.image_shape)
        + DECODER_PASSES * forward_flops(decoder, (1, config.z_dim)))
    per_epoch = -(-TRAIN_IMAGES[dataset] // config.batch_size)
    full_run = 220 * per_epoch
    print("%s shape: batch %d, z %d, MoG(%d) LC IP SWG clip r=10, MC %d, XLA %s" % (
        dataset, config.batch_size, config.z_dim, components, mc, xla))
    print("  first iteration (trace + build): %.1f s" % compile_s)
    print("  %.2f s/iteration wall, %.2f s CPU/iteration, load average %.1f on %d cores"
          % (wall, cpu, os.getloadavg()[0], os.cpu_count()))
    print("  network FLOPs per iteration ~%.0f GFLOP -> %.0f GFLOP/s achieved"
          % (network_flops / 1e9, network_flops / 1e9 / wall))
    print("  full run (220 epochs x %d it = %d it): %.1f days here at this speed" % (
        per_epoch, full_run, full_run * wall / 86400))
    print("  ESTIMATE on one GPU at %.0f TFLOP/s sustained: %.0f ms/it, %.1f h for 220 epochs (FLOPs only; "
          "MoG KLs, small-kernel overheads and evaluation not included)" % (
              gpu_tflops, 1000 * network_flops / (gpu_tflops * 1e12),
              full_run * network_flops / (gpu_tflops * 1e12) / 3600))


@click.command(cls=OneLineCommand)
@click.option("--shape", type=click.Choice(["mnist", "cifar10", "both"]), default="both", show_default=True)
@click.option("--components", type=click.IntRange(1, 4096), default=100, show_default=True)
@click.option("--mc", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--gpu-tflops", type=FiniteFloat(0.1), default=50.0, show_default=True,
              help="assumed sustained GPU throughput for the estimate")
@shared_run_options("iterations", 3, xla=False, log_every=None, benchmark=True, notes={
    "--iterations": "timed per shape, after one compiling one", "--xla": "slower for these convolutions on the CPU",
    "--log-every": "a line with the rate so far", "--log-every default": "none: the summary only"})
@exit_on_user_error
def main(shape, components, mc, gpu_tflops, iterations, seed, device, xla, log_every):
    from utils.plumbing.devices import setup_device
    print("device: %s" % setup_device(device))  # and float32 convolutions and matmuls (TF32 off), as PyTorch
    for dataset in (["mnist", "cifar10"] if shape == "both" else [shape]):
        bench_shape(dataset, iterations, components, mc, xla, gpu_tflops, seed=seed, log_every=log_every)


if __name__ == "__main__":
    main()
