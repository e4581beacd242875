"""eval.pkl / eval.json of a run (legacy `VariationalAutoEncoder._write_evaluation`)."""
import os
import pickle

from utils.plumbing.atomic import write_json_atomic, write_pickle_atomic
from utils.plumbing.errors import UserError

EVAL_PICKLE = "eval.pkl"
EVAL_JSON = "eval.json"


def read_evaluation(logdir):
    """The dict in `<logdir>/eval.pkl`, or {} when there is none."""
    path = os.path.join(logdir, EVAL_PICKLE)
    try:
        with open(path, "rb") as stream:
            results = pickle.load(stream)
    except FileNotFoundError:
        return {}
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as error:
        raise UserError("%s is not a readable eval.pkl (%s): delete it and run the command again to re-evaluate."
                        % (path, error))
    if not isinstance(results, dict):
        raise UserError("%s holds a %s, not a dict: delete it and run the command again to re-evaluate."
                        % (path, type(results).__name__))
    return results


def write_evaluation(logdir, results):
    """Merge `results` into eval.pkl as the legacy `_write_evaluation` did: the new keys first, in their order,
    then the keys of the existing file that `results` lacks (so after `test()`, test split then train split,
    eval.pkl lists the train_* keys before the test_* keys, as the legacy file). Written atomically and
    mirrored to eval.json. Returns the merged dict."""
    merged = dict(results)
    for key, value in read_evaluation(logdir).items():
        if key not in merged:
            merged[key] = value
    write_pickle_atomic(os.path.join(logdir, EVAL_PICKLE), merged)
    write_json_atomic(os.path.join(logdir, EVAL_JSON), merged)
    return merged
