"""Speed of the 2D S-IntroVAE: adversarial-phase iterations/s with MoG(64), MC 100, batch 512 (LC, IP, SWG,
clipping: the paper's configuration) and the time of one full evaluation (1024^2 grid, MC 100).

    python bench/bench_sintrovae_2d.py [--iterations 40] [--no-eval] [--no-xla] [--device auto] [--seed 0]

The authors' PyTorch code does ~2.3 adversarial it/s on the 2-core benchmark machine (measured outside
this repository, 2 threads, loaded). Prints wall-clock and process-CPU figures and the 1-minute load
average, since the machine is shared.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import exit_on_user_error  # noqa: E402
from utils.plumbing.flags import OneLineCommand, shared_run_options  # noqa: E402


@click.command(cls=OneLineCommand)
@click.option("--eval/--no-eval", "run_eval", default=True, show_default=True)
@click.option("--components", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--mc", type=click.IntRange(1, 10000), default=100, show_default=True)
@shared_run_options("iterations", 40, xla=True, log_every=None, benchmark=True, notes={
    "--iterations": "timed, after two compiling ones", "--log-every": "a line with the rate so far",
    "--log-every default": "none: the summary only"})
@exit_on_user_error
def main(run_eval, components, mc, iterations, seed, device, xla, log_every):
    from utils.plumbing.devices import setup_device
    from utils.plumbing.progress import rate_line
    print("device: %s" % setup_device(device))  # and float32 matmuls (TF32 off), as the authors' PyTorch code
    import numpy as np
    import tensorflow as tf

    from utils.training.toy import build_model
    from utils.data.toy import ToyData
    from utils.metrics.toy import evaluate

    data = ToyData("8Gaussian", seed)
    model = build_model("8Gaussian", "mog", components, True, True, True, True, 0.0, mc, (0.2, 0.3, 0.9),
                        (10000, 15000), seed, xla)
    batch = data.next_batch(512)
    model.initialise(batch)
    model.start_adversarial_phase()
    batches = [data.next_batch(512) for _ in range(iterations)]
    began = time.time()
    model.train_batch(batches[0])
    model.train_batch(batches[0])
    compile_s = time.time() - began
    wall, cpu = time.time(), time.process_time()
    for index, x in enumerate(batches, start=1):
        model.train_batch(x)
        if log_every and index % log_every == 0:
            print(rate_line(index, iterations, time.time() - wall), flush=True)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    load = os.getloadavg()[0]
    print("adversarial phase, MoG(%d) LC IP SWG clip, MC %d, batch 512, XLA %s:" % (components, mc, xla))
    print("  first two iterations (trace + compile): %.1f s" % compile_s)
    print("  %.2f it/s wall (%.1f ms/it), %.1f ms CPU/it, load average %.1f on %d cores"
          % (iterations / wall, 1000 * wall / iterations, 1000 * cpu / iterations, load, os.cpu_count()))
    if run_eval:
        began = time.time()
        results, _ = evaluate(model, data, mc=100, seed=seed)
        print("  evaluation (5000-sample KL and JSD, gnELBO on 1024^2 grid + 12800 real, MC 100): %.1f s"
              % (time.time() - began))
        print("  values (untrained model): %s" % {k: float(np.round(v, 6)) for k, v in results.items()})
    del tf


if __name__ == "__main__":
    main()
