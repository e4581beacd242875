"""LagVAE training speed at batch 250 (legacy 2x1024 MLP, z = 64, XLA) against the machine's float32 matmul speed.

    python bench/bench_lagvae.py [--steps 200] [--rounds 3] [--device cpu]

Prints training steps/s, the GFLOP/s they achieve (FLOPs per step counted from the layer sizes), the GFLOP/s of
2048x2048x2048 float32 matmuls measured in the same run, their ratio, and the peak RSS of the process. The
two measurements alternate over several rounds and the medians are reported, so other load on the machine
affects both alike; the ratio is the figure to compare between machines.
"""
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402

from utils.errors import exit_on_user_error  # noqa: E402

MATMUL_SIZE = 2048


def step_flops(batch, x_dim=784, hidden=1024, z_dim=64):
    """FLOPs of one training step: 3x the forward matmul FLOPs (forward, and backward for inputs and weights)
    plus the three B x B x z_dim MMD kernels (difference, square, sum: 3 FLOPs per element, also x3)."""
    encoder = x_dim * hidden + hidden * hidden + 2 * hidden * z_dim
    decoder = z_dim * hidden + hidden * hidden + hidden * x_dim
    forward = 2 * batch * (encoder + decoder)
    mmd = 3 * (3 * batch * batch * z_dim)
    return 3 * (forward + mmd)


def matmul_gflops(tf, seconds=1.0):
    a = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])
    b = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    product(a, b).numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        product(a, b).numpy()
        count += 1
    return count * 2 * MATMUL_SIZE ** 3 / (time.perf_counter() - start) / 1e9


def steps_per_second(model, batches, steps):
    model.train_batch(batches[0])["loss"].numpy()
    start = time.perf_counter()
    for index in range(steps):
        metrics = model.train_batch(batches[index % len(batches)])
    metrics["loss"].numpy()
    return steps / (time.perf_counter() - start)


@click.command()
@click.option("--steps", type=click.IntRange(min=10), default=200, show_default=True, help="steps per round")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1, max=10000), default=250, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="'auto', 'cpu' or a GPU index")
@click.option("--compare/--no-compare", default=True, show_default=True,
              help="also time the same step compiled without XLA")
@exit_on_user_error
def main(steps, rounds, batch_size, device, compare):
    from utils.devices import choose_device
    described = choose_device(device)
    import keras
    import tensorflow as tf
    from methods.lagvae import LagrangianVAE

    keras.utils.set_random_seed(0)
    variants = {"XLA": True, "no XLA": False} if compare else {"XLA": True}
    models = {name: LagrangianVAE(mi=1.0, e1=86.0, e2=5.0, seed=0, jit_compile=jit) for name, jit in variants.items()}
    rng = tf.random.Generator.from_seed(1)
    batches = [tf.cast(rng.uniform([batch_size, 784]) < 0.13, tf.float32) for _ in range(8)]
    for model in models.values():
        model.train_batch(batches[0])  # compilation
    speeds, matmuls = {name: [] for name in models}, []
    for _ in range(rounds):  # interleaved, so that load from other processes hits every measurement alike
        matmuls.append(matmul_gflops(tf))
        for name, model in models.items():
            speeds[name].append(steps_per_second(model, batches, steps))
    matmul = statistics.median(matmuls)
    flops = step_flops(batch_size)
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print("device: %s, %d CPU cores; batch %d; %d rounds of %d steps" % (
        described, os.cpu_count(), batch_size, rounds, steps))
    print("FLOPs per training step: %.2f GFLOP" % (flops / 1e9))
    print("matmul %dx%d float32: %.1f GFLOP/s (rounds: %s)" % (
        MATMUL_SIZE, MATMUL_SIZE, matmul, ", ".join("%.1f" % m for m in matmuls)))
    for name in models:
        speed = statistics.median(speeds[name])
        achieved = speed * flops / 1e9
        print("training (%s): %.1f steps/s (rounds: %s); achieved %.1f GFLOP/s; ratio achieved / matmul %.2f" % (
            name, speed, ", ".join("%.1f" % s for s in speeds[name]), achieved, achieved / matmul))
    print("peak RSS: %.2f GB" % peak_rss_gb)


if __name__ == "__main__":
    main()
