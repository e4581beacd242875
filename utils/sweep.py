"""A grid of LagVAE / InfoVAE configurations run as separate processes, one per free device slot.

Each configuration is `python examples/{lagvae,infovae}.py --z_dim --mi --e1 --e2 --epochs --device ...`,
whose run directory is `$EXP_LOG_PATH/{lvae,infovae}/v1/{z}/{mi}-{e1}-{e2}/` (legacy spec 1.1, 1.9):
* finished runs (eval.pkl present) are skipped;
* other runs are started as they are: an interrupted run resumes from its own `ckpt/` (the child command does
  that by itself);
* each child's stdout and stderr go to `<run dir>/sweep_output.txt` (appended, one header per attempt).
"""
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from utils.legacy_runs import run_directory

OUTPUT_FILE = "sweep_output.txt"

# Legacy spec 2.5 / 2.4: the figure's protocol (LagVAE) and the proposed InfoVAE grid.
DEFAULT_LAGVAE_MI = (1.0, -1.0)
DEFAULT_LAGVAE_E1 = (80.0, 82.0, 84.0) + tuple(float(e) for e in range(85, 96))
DEFAULT_LAGVAE_E2 = (5.0,)
DEFAULT_INFOVAE_MI = (1.0, -1.0)
DEFAULT_INFOVAE_LAMBDA1 = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
DEFAULT_INFOVAE_LAMBDA2 = (0.1, 1.0, 10.0)


@dataclass
class Job:
    method: str                      # 'lagvae' or 'infovae'
    mi: float
    e1: float
    e2: float
    z_dim: int = 64
    logdir: str = ""
    status: str = "pending"          # pending, finished-before, running, done, failed
    returncode: int = None
    seconds: float = 0.0
    evaluation: dict = field(default=None)

    @property
    def name(self):
        return "%s mi=%g e1=%g e2=%g" % (self.method, self.mi, self.e1, self.e2)


def make_grid(root, methods, lagvae_mi, lagvae_e1, lagvae_e2, infovae_mi, infovae_lambda1, infovae_lambda2,
              z_dim=64):
    """The jobs of the grid, LagVAE first; duplicate configurations are dropped."""
    configs = []
    if "lagvae" in methods:
        configs += [("lagvae", m, e1, e2) for m in lagvae_mi for e1 in lagvae_e1 for e2 in lagvae_e2]
    if "infovae" in methods:
        configs += [("infovae", m, l1, l2) for m in infovae_mi for l1 in infovae_lambda1 for l2 in infovae_lambda2]
    jobs, seen = [], set()
    for method, mi, e1, e2 in configs:
        key = (method, float(mi), float(e1), float(e2))
        if key in seen:
            continue
        seen.add(key)
        jobs.append(Job(method, float(mi), float(e1), float(e2), z_dim,
                        run_directory(root, method, z_dim, mi, e1, e2)))
    return jobs


def child_command(job, script_dir, epochs, device, extra_args=(), python=sys.executable):
    """`python <script_dir>/<method>.py --z_dim .. --mi=.. --e1=.. --e2=.. --epochs .. --device ..`."""
    return [python, os.path.join(script_dir, "%s.py" % job.method), "--z_dim", str(job.z_dim),
            "--mi=%r" % job.mi, "--e1=%r" % job.e1, "--e2=%r" % job.e2, "--epochs", str(epochs),
            "--device", str(device)] + list(extra_args)


def device_slots(gpus, cpu_slots):
    """One slot per free GPU (its index); without GPUs, `cpu_slots` slots named 'cpu'."""
    return [str(g) for g in gpus] if gpus else ["cpu"] * max(1, int(cpu_slots))


def default_cpu_slots(cores=None):
    """One child per 2 cores (a child uses several threads; more children only contend), at least 1."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // 2)


class Scheduler:
    """Run jobs as child processes, at most one per slot; `on_change(job)` is called when a job ends."""

    def __init__(self, jobs, slots, make_command, env=None, poll_seconds=0.2, on_change=None):
        self.jobs, self.slots, self.make_command = jobs, list(slots), make_command
        self.env, self.poll_seconds, self.on_change = env, poll_seconds, on_change or (lambda job: None)
        self.running = {}   # slot index -> (job, Popen, output file, start time)

    def _start(self, slot, job):
        os.makedirs(job.logdir, exist_ok=True)
        command = self.make_command(job, self.slots[slot])
        output = open(os.path.join(job.logdir, OUTPUT_FILE), "a")
        output.write("# %s\n# %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), " ".join(command)))
        output.flush()
        env = dict(os.environ if self.env is None else self.env)
        if self.slots[slot] == "cpu" and len(self.slots) > 1:
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // len(self.slots))))
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        job.status = "running"
        self.running[slot] = (job, process, output, time.monotonic())

    def _reap(self):
        for slot, (job, process, output, started) in list(self.running.items()):
            code = process.poll()
            if code is None:
                continue
            output.close()
            job.returncode, job.seconds = code, time.monotonic() - started
            job.status = "done" if code == 0 else "failed"
            del self.running[slot]
            self.on_change(job)

    def run(self):
        """Run every pending job; on KeyboardInterrupt stop the children this scheduler started."""
        queue = [job for job in self.jobs if job.status == "pending"]
        try:
            while queue or self.running:
                self._reap()
                for slot in range(len(self.slots)):
                    if queue and slot not in self.running:
                        self._start(slot, queue.pop(0))
                if self.running:
                    time.sleep(self.poll_seconds)
        except KeyboardInterrupt:
            for job, process, output, _ in self.running.values():
                process.terminate()
            for job, process, output, _ in self.running.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                output.close()
                job.status = "interrupted"
            raise
        return self.jobs


def summary_table(jobs):
    """A plain-text table: configuration, status, minutes, train/test -ELBO and rate, train lambda1."""
    header = ("method", "mi", "e1", "e2", "status", "min", "train -ELBO", "train rate", "test -ELBO",
              "test rate", "train l1")
    rows = []
    for job in jobs:
        ev = job.evaluation or {}

        def get(key):
            return "%.2f" % float(ev[key]) if key in ev else "-"

        def neg_elbo(split):
            keys = ("%s_nll" % split, "%s_elbo" % split)
            return "%.2f" % (float(ev[keys[0]]) + float(ev[keys[1]])) if all(k in ev for k in keys) else "-"

        status = job.status if job.returncode in (None, 0) else "%s (exit %d)" % (job.status, job.returncode)
        rows.append((job.method, "%g" % job.mi, "%g" % job.e1, "%g" % job.e2, status,
                     "%.1f" % (job.seconds / 60.0) if job.seconds else "-", neg_elbo("train"), get("train_elbo"),
                     neg_elbo("test"), get("test_elbo"), get("train_l1")))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
