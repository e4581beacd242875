"""Cost of the embedded local Ray that `examples/sweep.py` starts without a cluster: start-up and shut-down
time, and the memory (RSS) of the processes Ray starts, measured over `--rounds` start / stop cycles.

    python bench/bench_ray_startup.py --rounds 3
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def descendants(pid):
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    children.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return children + [d for child in children for d in descendants(child)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    import ray
    from utils.sweeps.engine import connect
    print("import ray: %.2f s" % (time.perf_counter() - started))
    base = rss_mb(os.getpid())
    for round_ in range(args.rounds):
        started = time.perf_counter()
        connect(num_cpus=args.num_cpus, num_gpus=0, temp_dir="/tmp/rb%d" % os.getpid())
        up = time.perf_counter() - started

        @ray.remote
        def noop():
            return os.getpid()
        started = time.perf_counter()
        ray.get(noop.remote())
        first_task = time.perf_counter() - started
        time.sleep(1.0)
        pids = descendants(os.getpid())
        others = sum(rss_mb(pid) for pid in pids)
        driver = rss_mb(os.getpid()) - base
        started = time.perf_counter()
        ray.shutdown()
        down = time.perf_counter() - started
        print("round %d: start %.2f s, first task %.2f s, shutdown %.2f s; %d Ray processes, RSS %.0f MB "
              "(+ %.0f MB in the driver)" % (round_, up, first_task, down, len(pids), others, driver))


if __name__ == "__main__":
    main()
