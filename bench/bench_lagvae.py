"""LagVAE training speed at batch 250 (legacy 2x1024 MLP, z = 64) against the machine's float32 matmul speed.

    python bench/bench_lagvae.py [--steps 50] [--rounds 12] [--device cpu] [--xla/--no-xla]

Prints training steps/s, the GFLOP/s they achieve (FLOPs per step counted from the matmuls the step runs),
the GFLOP/s of 2048x2048x2048 float32 matmuls measured in the same run, their ratio, and the peak RSS of the
process. It also times the step's own matmuls alone, back to back (`ceiling`): what the step would reach if
everything else (activations, sampling, Adam, dispatch) were free. The measurements alternate over many
short rounds and the medians are reported, so other load on the machine affects all of them alike; the
ratio is the figure to compare between machines.
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
from utils.flags import OneLineCommand  # noqa: E402

MATMUL_SIZE = 2048


def step_matmuls(batch, x_dim=784, hidden=1024, z_dim=64):
    """The matmuls of one training step as (rows, inner, columns, transpose_a, transpose_b).

    Each dense layer [B, i] -> [B, o] runs x W forward, x^T dy for its weight gradient and dy W^T for its
    input gradient (skipped for the first encoder layer: no gradient flows into the data). The MMD runs
    three B x B kernels (z z'^T), each with two gradient matmuls.
    """
    encoder = [(x_dim, hidden), (hidden, hidden), (hidden, z_dim), (hidden, z_dim)]  # mean and logstd heads
    decoder = [(z_dim, hidden), (hidden, hidden), (hidden, x_dim)]
    shapes = []
    for index, (inputs, outputs) in enumerate(encoder + decoder):
        shapes.append((batch, inputs, outputs, False, False))      # forward
        shapes.append((inputs, batch, outputs, True, False))       # weight gradient
        if index != 0:
            shapes.append((batch, outputs, inputs, False, True))   # input gradient
    for _ in range(3):
        shapes.append((batch, z_dim, batch, False, True))          # kernel
        shapes.append((batch, batch, z_dim, False, False))         # its two gradients
        shapes.append((batch, batch, z_dim, True, False))
    return shapes


def step_flops(batch, **sizes):
    """FLOPs of one training step: 2 m k n over the matmuls of `step_matmuls` (element-wise work not counted)."""
    return sum(2 * rows * inner * columns for rows, inner, columns, _, _ in step_matmuls(batch, **sizes))


def timed_rate(function, seconds, work):
    """`work` units per second of `function()` (which returns a tensor) over at least `seconds`."""
    count, start = 0, time.perf_counter()
    while True:
        function().numpy()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count * work / elapsed


def matmul_benchmark(tf):
    """GFLOP/s of one 2048^3 float32 matmul."""
    a = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])
    b = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    product().numpy()
    return lambda seconds: timed_rate(product, seconds, 2 * MATMUL_SIZE ** 3 / 1e9)


def ceiling_benchmark(tf, batch):
    """GFLOP/s of the step's own matmuls (`step_matmuls`) run back to back in one graph."""
    operands = []
    for rows, inner, columns, transpose_a, transpose_b in step_matmuls(batch):
        a = tf.random.normal([inner, rows] if transpose_a else [rows, inner])
        b = tf.random.normal([columns, inner] if transpose_b else [inner, columns])
        operands.append((a, b, transpose_a, transpose_b))

    @tf.function
    def all_matmuls():
        return tf.add_n([tf.reduce_sum(tf.matmul(a, b, transpose_a=ta, transpose_b=tb)) for a, b, ta, tb in operands])

    all_matmuls().numpy()
    return lambda seconds: timed_rate(all_matmuls, seconds, step_flops(batch) / 1e9)


def training_benchmark(model, batches, steps):
    """Steps/s of `model.train_batch` over `steps` steps cycling through `batches`."""
    model.train_batch(batches[0])["loss"].numpy()

    def run():
        start = time.perf_counter()
        for index in range(steps):
            metrics = model.train_batch(batches[index % len(batches)])
        metrics["loss"].numpy()
        return steps / (time.perf_counter() - start)
    return run


@click.command(cls=OneLineCommand)
@click.option("--steps", type=click.IntRange(min=5), default=50, show_default=True, help="training steps per round")
@click.option("--rounds", type=click.IntRange(min=1), default=12, show_default=True,
              help="rounds; each times the matmul, the ceiling and every training variant once")
@click.option("--batch-size", type=click.IntRange(min=1, max=10000), default=250, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="'auto', 'cpu' or a GPU index")
@click.option("--xla/--no-xla", default=None,
              help="time only the step compiled with (or without) XLA; both when neither is given")
@exit_on_user_error
def main(steps, rounds, batch_size, device, xla):
    from utils.devices import setup_device
    described = setup_device(device)
    import keras
    import tensorflow as tf
    from methods.lagvae import LagrangianVAE

    keras.utils.set_random_seed(0)
    variants = {"XLA": True, "no XLA": False}
    if xla is not None:
        variants = {name: jit for name, jit in variants.items() if jit == xla}
    rng = tf.random.Generator.from_seed(1)
    batches = [tf.cast(rng.uniform([batch_size, 784]) < 0.13, tf.float32) for _ in range(8)]
    flops = step_flops(batch_size)
    gflop = flops / 1e9
    measure = {"matmul": matmul_benchmark(tf), "ceiling": ceiling_benchmark(tf, batch_size)}
    for name, jit in variants.items():
        model = LagrangianVAE(mi=1.0, e1=86.0, e2=5.0, seed=0, jit_compile=jit)
        measure[name] = training_benchmark(model, batches, steps)  # compiles here
    results = {name: [] for name in measure}
    for _ in range(rounds):  # interleaved, so that load from other processes hits every measurement alike
        for name, run in measure.items():
            results[name].append(run(0.5) if name in ("matmul", "ceiling") else run() * gflop)
    median = {name: statistics.median(values) for name, values in results.items()}
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print("device: %s, %d CPU cores; batch %d; %d rounds (%d training steps each)" % (
        described, os.cpu_count(), batch_size, rounds, steps))
    print("FLOPs per training step: %.2f GFLOP (%d matmuls)" % (gflop, len(step_matmuls(batch_size))))
    print("matmul %dx%d float32: %.1f GFLOP/s (median; rounds %.0f-%.0f)" % (
        MATMUL_SIZE, MATMUL_SIZE, median["matmul"], min(results["matmul"]), max(results["matmul"])))
    print("ceiling, the step's matmuls alone: %.1f GFLOP/s = %.1f steps/s; ratio to the matmul %.2f" % (
        median["ceiling"], median["ceiling"] / gflop, median["ceiling"] / median["matmul"]))
    for name in variants:
        paired = [achieved / matmul for achieved, matmul in zip(results[name], results["matmul"])]
        print("training (%s): %.1f steps/s (rounds %.1f-%.1f); achieved %.1f GFLOP/s; "
              "ratio achieved / matmul %.2f (per-round median %.2f); of the ceiling %.2f" % (
                  name, median[name] / gflop, min(results[name]) / gflop, max(results[name]) / gflop,
                  median[name], median[name] / median["matmul"], statistics.median(paired),
                  median[name] / median["ceiling"]))
    print("peak RSS: %.2f GB" % peak_rss_gb)


if __name__ == "__main__":
    main()
