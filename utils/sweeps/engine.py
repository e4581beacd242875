"""Sweeps on Ray: each trial runs one training command as a child process; its run directory is the unit of resume.

* `connect`: an existing cluster (`address` or `RAY_ADDRESS`), or an embedded local Ray on this machine.
* Each trial is a Ray task that asks for one GPU when the cluster has GPUs (Ray sets CUDA_VISIBLE_DEVICES;
  the child gets `--device <that GPU>`), else `cpus_per_trial` CPUs (the child gets `--device cpu`). The
  child runs in its own process group; when the task is cancelled, or its worker dies (PR_SET_PDEATHSIG),
  the whole group is stopped.
* Finished trials (result file present) are skipped; an unfinished one is started as it is and the command
  resumes from its own `ckpt/`. The child's output is appended to `<run dir>/sweep_output.txt`.
"""
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

OUTPUT_FILE = "sweep_output.txt"
RAY_TEMP_DIR = "/tmp/ray-lagvae"     # short: Ray's socket paths must stay under ~107 bytes


@dataclass
class Outcome:
    trial: object
    status: str = "pending"      # pending, finished-before, done, stopped (exit 0, unfinished), failed, interrupted
    returncode: int = None
    seconds: float = 0.0
    device: str = ""
    node: str = ""
    error: str = ""               # Ray's error when the task itself failed (the child never ran or was lost)

    @property
    def failed(self):
        return self.status == "failed"


def connect(address=None, num_cpus=None, num_gpus=None, temp_dir=RAY_TEMP_DIR):
    """Use a running Ray (already initialised in this process, `address`, or $RAY_ADDRESS), else start an
    embedded local one without the dashboard. Returns True when this call started a local cluster."""
    import ray
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, _temp_dir=temp_dir,
             log_to_driver=False, configure_logging=False)
    return True


def _set_parent_death_signal():
    """In the child: get SIGTERM when the trial's worker dies (Linux), and lead a new process group."""
    os.setsid()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_group(process, grace=30.0):
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_child(command, run_dir, env):
    """Run `command` (with a final `--device` value of 'gpu' replaced by this task's GPU) in its own process
    group, output appended to <run_dir>/sweep_output.txt. Returns (exit code, seconds, device, node)."""
    import ray
    gpus = [str(int(g)) for g in ray.get_gpu_ids()]
    device = gpus[0] if gpus else "cpu"
    command = [device if (part == "gpu" and i > 0 and command[i - 1] == "--device") else part
               for i, part in enumerate(command)]
    child_env = dict(os.environ)
    child_env.update(env)
    if gpus:
        child_env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    os.makedirs(run_dir, exist_ok=True)
    started = time.monotonic()
    with open(os.path.join(run_dir, OUTPUT_FILE), "a") as output:
        output.write("# %s on %s, CUDA_VISIBLE_DEVICES=%s\n# %s\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S"), os.uname().nodename, child_env.get("CUDA_VISIBLE_DEVICES", ""),
            " ".join(command)))
        output.flush()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=child_env,
                                   preexec_fn=_set_parent_death_signal)
        try:
            # poll, not wait(): ray.cancel raises KeyboardInterrupt only between Python bytecodes, never inside
            # a blocking waitpid
            while process.poll() is None:
                time.sleep(0.2)
            code = process.returncode
        except BaseException:          # ray.cancel raises KeyboardInterrupt here: stop the whole group
            _stop_group(process)
            raise
    return code, time.monotonic() - started, device, os.uname().nodename


def trial_resources(devices="auto", cpus_per_trial=2):
    """Ray resources of one trial: a GPU (and 1 CPU) when the cluster has GPUs and `devices` is 'auto',
    else `cpus_per_trial` CPUs."""
    import ray
    if devices == "auto" and ray.cluster_resources().get("GPU", 0) >= 1:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_gpus": 0, "num_cpus": cpus_per_trial}


def run_trials(trials, root, commands, resources, on_end=None, env=None, max_concurrent=None):
    """Run the unfinished `trials` on Ray (one task each, resources as given). `commands[i]` is trial i's
    command (its --device value 'gpu' is replaced in the task). `on_end(outcome)` is called as each ends.
    Returns the Outcomes in the trials' order. Ctrl-C cancels the running tasks (their children are stopped)
    and re-raises KeyboardInterrupt."""
    import ray
    from ray import cloudpickle
    # ship this module's code with the task: Ray's workers need not find the repository on their path
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    remote = ray.remote(max_retries=0)(run_child)
    outcomes = [Outcome(trial) for trial in trials]
    for outcome in outcomes:
        if outcome.trial.finished(root):
            outcome.status = "finished-before"
    queue = [i for i, o in enumerate(outcomes) if o.status == "pending"]
    if resources.get("num_cpus", 0) == 0 and resources.get("num_gpus", 0) == 0:
        raise ValueError("a trial needs some resource")
    limit = max_concurrent or len(queue) or 1
    running = {}
    child_env = dict(env or {}, EXP_LOG_PATH=root)
    if resources.get("num_gpus", 0) == 0:
        child_env.setdefault("OMP_NUM_THREADS", str(int(resources["num_cpus"])))
    try:
        while queue or running:
            while queue and len(running) < limit:
                index = queue.pop(0)
                trial = outcomes[index].trial
                ref = remote.options(name=trial.name[-60:], **resources).remote(
                    commands[index], os.path.join(root, trial.run_dir), child_env)
                running[ref] = index
                outcomes[index].status = "running"
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                outcome = outcomes[running.pop(ref)]
                try:
                    code, seconds, device, node = ray.get(ref)
                    outcome.returncode, outcome.seconds, outcome.device, outcome.node = code, seconds, device, node
                    outcome.status = "failed" if code else (
                        "done" if outcome.trial.finished(root) else "stopped")   # e.g. a child's --max-steps
                except (ray.exceptions.RayError, OSError) as error:
                    outcome.status, outcome.returncode = "failed", -1
                    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                    outcome.error = lines[-1][:200] if lines else type(error).__name__
                if on_end:
                    on_end(outcome)
    except KeyboardInterrupt:
        for ref, index in running.items():
            ray.cancel(ref)
            outcomes[index].status = "interrupted"
        deadline = time.monotonic() + 40
        while running and time.monotonic() < deadline:
            ready, _ = ray.wait(list(running), num_returns=len(running), timeout=1.0)
            for ref in ready:
                running.pop(ref)
        raise
    return outcomes


def summary_table(outcomes, root, columns=()):
    """A plain-text table: run directory, status, minutes, device, then the given result keys (label, key)."""
    header = ("run", "status", "min", "device") + tuple(label for label, _ in columns)
    rows = []
    for outcome in outcomes:
        results = outcome.trial.results(root) if outcome.status in ("done", "finished-before") else {}
        status = outcome.status if outcome.returncode in (None, 0) else "%s (exit %d)" % (outcome.status,
                                                                                           outcome.returncode)
        cells = []
        for _, key in columns:
            value = key(results) if callable(key) else results.get(key)
            cells.append("-" if value is None else "%.2f" % value)
        rows.append((outcome.trial.run_dir, status, "%.1f" % (outcome.seconds / 60.0) if outcome.seconds else "-",
                     outcome.device or "-") + tuple(cells))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))) for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def python_executable():
    return sys.executable
