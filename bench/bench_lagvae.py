"""LagVAE training speed at batch 250 (legacy 2x1024 MLP, z = 64): this project's step against the legacy TF1
graph of `ermongroup/lagvae`, and against the machine's float32 matmul speed.

    python bench/bench_lagvae.py [--iterations 100] [--rounds 6] [--device auto] [--xla/--no-xla] [--seed 0]
                                 [--log-every N] [--malloc-threshold-mb 0]

Two worker processes, started once and kept warm, take turns (paired rounds; only one runs at a time):

* ours: `LagrangianVAE.train_batch` on the real pipeline (`utils.data.mnist.read_mnist` with a generator, MNIST
  from $DATA_PREFIX, as `examples/lagvae.py` trains), with and without XLA; it also times a 2048^3 float32
  matmul and the step's own matmuls back to back (`ceiling`: what the step would reach if everything else
  were free);
* legacy: the original TF1 graph (bench/legacy_graph.py) in `tf.compat.v1` graph mode with TF2 behaviour off:
  its tf.data pipeline with binarisation, `sess.run([trainer, lambda_update])` then `sess.run(lambda_clip)`.

Graph mode and eager code never share a process. Both workers get the same environment, including the glibc
malloc thresholds (`--malloc-threshold-mb`; 0, the default, keeps glibc's: with them the legacy graph spends
about 4% of its CPU time per step in the kernel here, so raising them is not needed; the system time is
printed). Printed: steps/s of each side (median over rounds, with the range), user and system CPU seconds per
step of each, the ratio ours / legacy (median of the per-round ratios) in steps/s and in CPU time per step, the
GFLOP/s figures, peak RSS and the load average. Other load on the machine hits both sides alike within a round;
compare ratios, not absolute rates, between runs.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import exit_on_user_error  # noqa: E402
from utils.plumbing.flags import OneLineCommand, hidden_alias, shared_run_options  # noqa: E402

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


MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
MI, E1, E2 = 1.0, 86.0, 5.0   # the legacy README's LagVAE example


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def timed_steps(run_steps, steps, log_every=None):
    """{'rate': steps/s, 'user': CPU s/step, 'system': CPU s/step} of `run_steps(steps)`; with `log_every`, in
    chunks of that many steps, each followed by a 'LOG <rate line>' for the parent to print."""
    from utils.plumbing.progress import rate_line
    user, system = cpu_seconds()
    start = time.perf_counter()
    done = 0
    while done < steps:
        chunk = min(log_every or steps, steps - done)
        run_steps(chunk)
        done += chunk
        if log_every:
            print("LOG " + rate_line(done, steps, time.perf_counter() - start), flush=True)
    elapsed = time.perf_counter() - start
    user_after, system_after = cpu_seconds()
    return {"rate": steps / elapsed, "user": (user_after - user) / steps, "system": (system_after - system) / steps}


def endless_batches(dataset):
    """The dataset's batches pass after pass, as the training loop reads them (a new pass = fresh binarisation)."""
    while True:
        for batch in dataset:
            yield batch


def our_measurements(tf, steps, batch_size, dataset, variants, seed=0, log_every=None):
    """name -> function returning one round's figures, for the matmul, the ceiling and each training variant."""
    import keras
    from methods.lagvae import LagrangianVAE
    from utils.data.mnist import read_mnist

    keras.utils.set_random_seed(seed)
    with tf.device("/CPU:0"):   # as utils/training/legacy.py: the binarisation stream lives with tf.data
        generator = tf.random.Generator.from_seed(seed + 1)
    train, _ = read_mnist(dataset, batch_sizes=(batch_size, batch_size), generator=generator)
    batches = endless_batches(train)
    matmul, ceiling = matmul_benchmark(tf), ceiling_benchmark(tf, batch_size)
    measure = {"matmul": lambda: {"gflops": matmul(0.5)}, "ceiling": lambda: {"gflops": ceiling(0.5)}}
    for name, jit in variants.items():
        model = LagrangianVAE(mi=MI, e1=E1, e2=E2, seed=seed, jit_compile=jit)

        def run_steps(count, model=model):
            for _ in range(count):
                metrics = model.train_batch(next(batches))
            metrics["loss"].numpy()

        run_steps(10)   # compiles here
        measure[name] = lambda run_steps=run_steps: timed_steps(run_steps, steps, log_every)
    return measure


def legacy_measurements(tf, steps, batch_size, dataset, seed=0, log_every=None):
    """The legacy TF1 graph (bench/legacy_graph.py) in graph mode with TF2 behaviour off (this process only)."""
    tf.compat.v1.disable_v2_behavior()
    from bench.legacy_graph import LegacyLagVAEGraph
    from utils.data.mnist import load_mnist_arrays

    graph = LegacyLagVAEGraph(tf, load_mnist_arrays(dataset).train.images, batch_size=batch_size,
                              mi=MI, e1=E1, e2=E2, seed=seed)
    graph.start_epoch()
    graph.train_steps(10)
    return {"legacy": lambda: timed_steps(graph.train_steps, steps, log_every)}


def serve(kind, steps, batch_size, dataset, variants, seed=0, log_every=None):
    """Serve measurements over stdin/stdout: 'READY [names]', then one 'RESULT {json}' line per name asked."""
    from utils.plumbing.devices import disable_tf32
    tf = disable_tf32()   # float32 matmuls in float32 on both sides, as the legacy code ran them
    if kind == "legacy":
        measure = legacy_measurements(tf, steps, batch_size, dataset, seed, log_every)
    else:
        measure = our_measurements(tf, steps, batch_size, dataset, variants, seed, log_every)
    print("READY " + json.dumps(sorted(measure)), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == "rss":
            result = {"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}
        else:
            result = measure[name]()
        print("RESULT " + json.dumps(result), flush=True)


class Worker:
    """One warm worker process of this script (`--worker ours|legacy`)."""

    def __init__(self, kind, arguments, env):
        self.kind = kind
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", kind] + arguments,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True, env=env)
        self.names = json.loads(self._reply("READY "))

    def _reply(self, prefix):
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line[len(prefix):]
            if line.startswith("LOG "):   # a --log-every line of the round being timed
                print("  %s: %s" % (self.kind, line[len("LOG "):].strip()), flush=True)
        self.errors.seek(0)
        raise RuntimeError("the %s worker stopped:\n%s" % (self.kind, self.errors.read()[-3000:]))

    def ask(self, name):
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        return json.loads(self._reply("RESULT "))

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def worker_environment(malloc_threshold_mb):
    """The environment of both workers: ours plus, unless 0, the same glibc malloc thresholds for both."""
    env = dict(os.environ)
    if malloc_threshold_mb:
        for name in MALLOC_VARIABLES:
            env[name] = str(malloc_threshold_mb * 1024 * 1024)
    else:
        for name in MALLOC_VARIABLES:
            env.pop(name, None)
    return env


def spread(values, scale=1.0):
    return "%.1f (rounds %.1f-%.1f)" % (statistics.median(values) * scale, min(values) * scale, max(values) * scale)


@click.command(cls=OneLineCommand)
@click.option("--rounds", type=click.IntRange(min=1), default=6, show_default=True,
              help="rounds; each times the matmul, the ceiling, every variant of our step and the legacy graph once")
@click.option("--batch-size", type=click.IntRange(min=1, max=10000), default=250, show_default=True)
@click.option("--dataset", type=click.Choice(["mnist", "fashion_mnist"]), default="mnist", show_default=True,
              help="the data under $DATA_PREFIX that both sides train on")
@click.option("--malloc-threshold-mb", type=click.IntRange(min=0, max=32), default=0, show_default=True,
              help="glibc MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ of both workers, in MiB (32 is glibc's "
                   "largest mmap threshold); 0 keeps glibc's defaults")
@click.option("--worker", type=click.Choice(["ours", "legacy"]), default=None, hidden=True)
@shared_run_options("iterations", 100, xla=None, log_every=None, benchmark=True, notes={
    "--iterations": "timed per round, for each side", "--log-every": "a line with each side's rate so far",
    "--log-every default": "none: the summary only",
    "--xla": "our step only with (or without) XLA; both when neither is given. The ratio to the legacy graph uses "
             "the training command's default (no XLA on the CPU, XLA on a GPU) when both are timed",
    "--xla default": "both"}, aliases=[hidden_alias("--steps", "iterations", click.IntRange(min=1))])  # old spelling
@exit_on_user_error
def main(rounds, batch_size, dataset, malloc_threshold_mb, worker, iterations, seed, device, xla, log_every):
    steps = iterations
    variants = {"XLA": True, "no XLA": False}
    if xla is not None:
        variants = {name: jit for name, jit in variants.items() if jit == xla}
    if worker is not None:
        serve(worker, steps, batch_size, dataset, variants, seed, log_every)
        return
    from utils.data.mnist import load_mnist_arrays
    from utils.plumbing.devices import setup_device
    described = setup_device(device)
    load_mnist_arrays(dataset)   # missing data: one line now, before any worker starts
    default = "no XLA" if described == "CPU" else "XLA"
    ours_name = default if default in variants else next(iter(variants))
    arguments = ["--iterations", str(steps), "--batch-size", str(batch_size), "--dataset", dataset, "--seed", str(seed)]
    arguments += ["--log-every", str(log_every)] if log_every else []
    arguments += [] if xla is None else ["--xla" if xla else "--no-xla"]
    env = worker_environment(malloc_threshold_mb)
    load_before = os.getloadavg()
    workers = []
    try:
        workers.append(Worker("ours", arguments, env))
        workers.append(Worker("legacy", arguments, env))
        ours, legacy = workers
        results = {name: [] for name in ours.names + legacy.names}
        for index in range(rounds):   # paired rounds; who goes first alternates
            order = [(ours, name) for name in ours.names] + [(legacy, "legacy")]
            for process, name in (order if index % 2 == 0 else order[::-1]):
                results[name].append(process.ask(name))
        peak_rss = {process.kind: process.ask("rss")["peak_rss_gb"] for process in workers}
    finally:
        for process in workers:
            process.close()
    load_after = os.getloadavg()

    gflop = step_flops(batch_size) / 1e9
    matmul = [r["gflops"] for r in results["matmul"]]
    ceiling = [r["gflops"] for r in results["ceiling"]]
    rates = {name: [r["rate"] for r in results[name]] for name in list(variants) + ["legacy"]}
    print("device: %s, %d CPU cores; batch %d; %d paired rounds of %d training steps per side; glibc malloc "
          "thresholds: %s" % (described, os.cpu_count(), batch_size, rounds, steps,
                              "%d MiB" % malloc_threshold_mb if malloc_threshold_mb else "defaults"))
    print("load average (1/5/15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end (on %d cores)" % (
        load_before + load_after + (os.cpu_count(),)))
    print("FLOPs per training step: %.2f GFLOP (%d matmuls)" % (gflop, len(step_matmuls(batch_size))))
    print("matmul %dx%d float32: %s GFLOP/s" % (MATMUL_SIZE, MATMUL_SIZE, spread(matmul)))
    print("ceiling, the step's matmuls alone: %.1f GFLOP/s = %.1f steps/s; ratio to the matmul %.2f" % (
        statistics.median(ceiling), statistics.median(ceiling) / gflop,
        statistics.median(ceiling) / statistics.median(matmul)))
    for name in list(variants) + ["legacy"]:
        label = "legacy TF1 graph" if name == "legacy" else "ours (%s)" % name
        user = statistics.median(r["user"] for r in results[name]) * 1e3
        system = statistics.median(r["system"] for r in results[name]) * 1e3
        achieved = statistics.median(rates[name]) * gflop
        print("%s: %s steps/s; CPU per step %.1f ms user + %.1f ms system; achieved %.1f GFLOP/s, "
              "%.2f of the matmul, %.2f of the ceiling" % (
                  label, spread(rates[name]), user, system, achieved, achieved / statistics.median(matmul),
                  achieved / statistics.median(ceiling)))
    paired = [ours_rate / legacy_rate for ours_rate, legacy_rate in zip(rates[ours_name], rates["legacy"])]
    print("ours (%s) / legacy TF1 graph: %.2fx (median of the per-round ratios; rounds %.2f-%.2f)" % (
        ours_name, statistics.median(paired), min(paired), max(paired)))
    cpu = {name: [r["user"] + r["system"] for r in results[name]] for name in (ours_name, "legacy")}
    cpu_paired = [theirs / ours for ours, theirs in zip(cpu[ours_name], cpu["legacy"])]
    print("CPU time per step, legacy / ours (%s): %.2fx (median of the per-round ratios; rounds %.2f-%.2f); less "
          "sensitive to other load than the wall-clock ratio" % (
              ours_name, statistics.median(cpu_paired), min(cpu_paired), max(cpu_paired)))
    print("peak RSS: ours %.2f GB, legacy %.2f GB" % (peak_rss["ours"], peak_rss["legacy"]))


if __name__ == "__main__":
    main()
