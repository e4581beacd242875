"""Device choice and TensorFlow set-up. The legacy code waited on `GPUtil.getFirstAvailable(attempts=10000,
interval=199)`, i.e. for weeks when no GPU is free; here the choice never blocks. GPU indices are the
nvidia-smi (PCI bus) order, as the legacy commands set `CUDA_DEVICE_ORDER=PCI_BUS_ID`.

`setup_device` is what every command calls before TensorFlow runs its first op: it chooses the device,
refuses a GPU that does not exist, and turns TF32 off (`disable_tf32`).
"""
import os

from utils.plumbing.errors import UserError

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


def installed_gpus():
    """Indices of all GPUs of this machine, busy or not (nvidia-smi through GPUtil); [] without GPUs or drivers."""
    try:
        import GPUtil
        return sorted(int(gpu.id) for gpu in GPUtil.getGPUs())
    except Exception:
        return []


def choose_device(device="auto", announce=print):
    """Pick the device and make TensorFlow see only it. Call before TensorFlow touches a device.

    device: 'auto' (a free GPU if any, else the CPU), 'cpu', or a GPU index such as '0' (refused when this
    machine has no such GPU). Returns a short description, e.g. 'GPU 1' or 'CPU'.
    """
    device = str(device).strip().lower()
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        return "CPU"
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # the indices of nvidia-smi, as the legacy commands
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
        present = installed_gpus()
        if int(device) not in present:
            raise UserError("--device %s: this machine has no GPU %s (%s): use --device auto, cpu%s." % (
                device, device, "GPUs: %s" % ", ".join(map(str, present)) if present else "nvidia-smi finds no GPU",
                " or one of those indices" if present else ""))
        os.environ["CUDA_VISIBLE_DEVICES"] = str(int(device))
        return "GPU %d" % int(device)
    raise UserError("--device must be 'auto', 'cpu' or a GPU index such as 0, not %r." % device)


def disable_tf32():
    """Import TensorFlow and make float32 matmuls and convolutions compute in float32.

    On Ampere and newer GPUs TensorFlow runs them in TF32 (10-bit mantissa) by default; the original TF1 and
    PyTorch code computed in float32, and the MoG log-density's matmul expansion loses tens of nats in TF32.
    Returns the `tensorflow` module.
    """
    import tensorflow as tf
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


def setup_device(device="auto", announce=print):
    """`choose_device`, then TensorFlow with TF32 off (`disable_tf32`). A GPU that TensorFlow cannot use
    (a TensorFlow without CUDA, a broken driver) is refused when asked for by index; with 'auto' the run
    goes to the CPU and says so. Returns the description of the device the run uses, e.g. 'GPU 1' or 'CPU'."""
    chosen = choose_device(device, announce=announce)
    tf = disable_tf32()
    if chosen != "CPU" and not tf.config.list_physical_devices("GPU"):
        if str(device).strip().lower() == "auto":
            announce("TensorFlow cannot use %s: running on the CPU." % chosen)
            return "CPU"
        raise UserError("--device %s: TensorFlow cannot use %s (this TensorFlow has no GPU support or the driver "
                        "is not usable): use --device cpu." % (str(device).strip(), chosen))
    return chosen
