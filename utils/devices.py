"""Device choice. The legacy code waited on `GPUtil.getFirstAvailable(attempts=10000, interval=199)`,
i.e. for weeks when no GPU is free; here the choice never blocks.
"""
import os

from utils.errors import UserError

# The legacy thresholds for a "free" GPU.
MAX_LOAD = 0.3
MAX_MEMORY = 0.5


def available_gpus(max_load=MAX_LOAD, max_memory=MAX_MEMORY):
    """Indices of GPUs under the load and memory thresholds, most free first; [] without GPUs or drivers."""
    try:
        import GPUtil
        return list(GPUtil.getAvailable(order="memory", limit=64, maxLoad=max_load, maxMemory=max_memory))
    except Exception:  # no nvidia-smi, no driver, GPUtil missing: no GPU to use
        return []


def choose_device(device="auto", announce=print):
    """Pick the device and make TensorFlow see only it. Call before TensorFlow touches a device.

    device: 'auto' (a free GPU if any, else the CPU), 'cpu', or a GPU index such as '0'.
    Returns a short description, e.g. 'GPU 1' or 'CPU'.
    """
    device = str(device).strip().lower()
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        return "CPU"
    if device == "auto":
        free = available_gpus()
        if not free:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
            announce("No free GPU found: running on the CPU.")
            return "CPU"
        os.environ["CUDA_VISIBLE_DEVICES"] = str(free[0])
        announce("Using GPU %d." % free[0])
        return "GPU %d" % free[0]
    if device.isdigit():
        os.environ["CUDA_VISIBLE_DEVICES"] = device
        return "GPU %s" % device
    raise UserError("--device must be 'auto', 'cpu' or a GPU index such as 0, not %r." % device)
