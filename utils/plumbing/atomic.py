"""Atomic file writes: a reader (or a run killed half-way) sees the old file or the new one, never a torn one.

The files get the permissions of a plain `open(path, 'wb')`, as the legacy `pickle.dump(d, open(..., 'wb'))`:
0666 minus the umask (0644 under umask 022, 0640 under 027), so the user's group can read the results.
"""
import json
import os
import pickle
import uuid


def _create_temporary(directory, basename):
    """A new, empty file beside the target, created with mode 0666 so that the kernel applies the umask (and a
    folder's default ACL) exactly as it does for open(); `tempfile.mkstemp` would make it 0600."""
    while True:
        temporary = os.path.join(directory, ".%s.%s.tmp" % (basename, uuid.uuid4().hex[:12]))
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue


def write_bytes_atomic(path, data):
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = _create_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text_atomic(path, text):
    write_bytes_atomic(path, text.encode("utf-8"))


def write_pickle_atomic(path, obj):
    write_bytes_atomic(path, pickle.dumps(obj))


def _to_json_value(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return value


def write_json_atomic(path, obj):
    """JSON with numpy values turned into Python numbers; keys sorted, indented for reading."""
    cleaned = {key: _to_json_value(value) for key, value in obj.items()} if isinstance(obj, dict) else obj
    write_text_atomic(path, json.dumps(cleaned, indent=2, sort_keys=True, default=_to_json_value) + "\n")
