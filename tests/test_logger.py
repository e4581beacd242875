"""The legacy Baselines-style logger (spec lagvae_legacy.md section 3): exact output of every format."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from utils.plumbing import logger

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One record with every value type whose printing differs (spec 3): np.float32 prints with str() in full,
# Python float and np.float64 (a float subclass) with '%-8.3g', int and str with str(); long keys and
# values are cut to 20 characters + '...'.
RECORD = {
    'nll': np.float32(88.123456),
    'elbo': 24.56789,
    'kl64': np.float64(0.000123456),
    'it': 1000,
    'name': 'a_value_that_is_much_too_long',
    'a_key_that_is_much_too_long_to_print': 1,
}
TABLE = (
    '-----------------------------------------------------\n'
    '| a_key_that_is_much_t... | 1                       |\n'
    '| elbo                    | 24.6                    |\n'
    '| it                      | 1000                    |\n'
    '| kl64                    | 0.000123                |\n'
    '| name                    | a_value_that_is_much... |\n'
    '| nll                     | 88.12346                |\n'
    '-----------------------------------------------------\n'
)


@pytest.fixture(autouse=True)
def default_logger():
    """Every test starts and ends with the default logger (configure may run once per state)."""
    logger.reset()
    logger.set_level(logger.INFO)
    yield
    logger.reset()
    logger.set_level(logger.INFO)


def read(path):
    with open(path) as stream:
        return stream.read()


def test_human_table_exact_text(tmp_path, capsys):
    logger.configure(str(tmp_path), format_strs=['stdout', 'log'])
    logger.logkvs(dict(RECORD))
    logger.dumpkvs()
    logger.reset()
    expected = 'Logging to %s\n%s' % (tmp_path, TABLE)
    assert read(tmp_path / 'log.txt') == expected
    assert capsys.readouterr().out == expected + 'Reset logger\n'


def test_human_format_float_rules_and_short_table():
    class Sink:
        text = ''

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    sink = Sink()
    fmt = logger.HumanOutputFormat(sink)
    fmt.writekvs({'b': 2.5, 'a': 3})
    fmt.writekvs({'x': 1e-5, 'y': np.float32(0.1), 'z': 123456789.0})
    assert sink.text == ('----------------\n| a | 3        |\n| b | 2.5      |\n----------------\n'
                         '----------------\n| x | 1e-05    |\n| y | 0.1      |\n| z | 1.23e+08 |\n----------------\n')
    with pytest.raises(ValueError):
        fmt.writekvs({})


def test_json_lines_and_in_place_conversion(tmp_path):
    logger.configure(str(tmp_path), format_strs=['json'])
    logger.logkv('nll', np.float32(88.123456))
    logger.logkv('it', 1000)
    logger.logkv('arr', np.array(2.5, dtype=np.float64))
    logger.dumpkvs()
    logger.logkv('nll', 1.5)
    logger.dumpkvs()
    logger.reset()
    lines = read(tmp_path / 'progress.json').splitlines()
    assert lines == ['{"nll": 88.12345886230469, "it": 1000, "arr": 2.5}', '{"nll": 1.5}']
    assert json.loads(lines[0])['nll'] == float(np.float32(88.123456))


def test_json_conversion_is_seen_by_later_formats(tmp_path, capsys):
    """Legacy quirk kept: 'json' turns dtype values into Python floats in place, so a table printed after
    it shows '%-8.3g' while one printed before it shows str(np.float32)."""
    logger.configure(str(tmp_path), format_strs=['stdout', 'json', 'log'])
    logger.logkv('nll', np.float32(88.123456))
    logger.dumpkvs()
    logger.reset()
    assert '| nll | 88.12346 |' in capsys.readouterr().out
    assert '| nll | 88.1     |' in read(tmp_path / 'log.txt')


def test_csv_header_grows_like_baselines(tmp_path):
    logger.configure(str(tmp_path), format_strs=['csv'])
    logger.logkvs({'b': 2, 'a': np.float32(0.5)})
    logger.dumpkvs()
    logger.logkvs({'a': 1.25, 'c': 'x'})
    logger.dumpkvs()
    logger.logkvs({'b': 7})
    logger.dumpkvs()
    logger.reset()
    assert read(tmp_path / 'progress.csv') == 'a,b,c\n0.5,2,\n1.25,,x\n,7,\n'


def test_tensorboard_format_steps_from_one(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    import tensorflow as tf

    logger.configure(str(tmp_path), format_strs=['tensorboard'])
    logger.logkvs({'nll': np.float32(90.5), 'elbo': 20})
    logger.dumpkvs()
    logger.logkvs({'nll': 88.25})
    logger.dumpkvs()
    logger.reset()
    assert os.listdir(tmp_path) == ['tb']
    accumulator = EventAccumulator(str(tmp_path / 'tb'))
    accumulator.Reload()
    # the legacy EventsWriter's simple_value scalars: the accumulator lists them under Scalars
    assert accumulator.Tags()['tensors'] == []
    values = {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
              for tag in accumulator.Tags()['scalars']}
    assert values == {'nll': [(1, 90.5), (2, 88.25)], 'elbo': [(1, 20.0)]}
    del tf


def test_tensorboard_scalars_in_run_directory(tmp_path):
    import tensorflow as tf

    writer = logger.TensorBoardScalars(str(tmp_path))
    writer.write({'train/elbo': np.float32(24.5), 'train/lambda1': 1.0003}, 1000)
    writer.write({'train/elbo': 23.0}, 2000)
    writer.close()
    events = [name for name in os.listdir(tmp_path) if name.startswith('events.out.tfevents.')]
    assert len(events) == 1 and sorted(os.listdir(tmp_path)) == events  # event file directly in logdir, no tb/
    seen = []
    for record in tf.data.TFRecordDataset(str(tmp_path / events[0])):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            assert value.WhichOneof('value') == 'simple_value'  # what the legacy FileWriter wrote
            seen.append((value.tag, event.step, value.simple_value))
    assert seen == [('train/elbo', 1000, 24.5), ('train/lambda1', 1000, pytest.approx(1.0003)),
                    ('train/elbo', 2000, 23.0)]
    with pytest.raises(ValueError):
        writer.write({'x': 1.0}, 1)


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match='^Unknown format specified: xml$'):
        logger.configure(str(tmp_path), format_strs=['log', 'xml'])
    assert logger.Logger.CURRENT is logger.Logger.DEFAULT


def test_configure_once_until_reset(tmp_path, capsys):
    logger.configure(str(tmp_path / 'a'), format_strs=['log'])
    assert logger.get_dir() == str(tmp_path / 'a')
    with pytest.raises(AssertionError, match='reset'):
        logger.configure(str(tmp_path / 'b'), format_strs=['log'])
    log_file = logger.Logger.CURRENT.output_formats[0].file
    logger.reset()
    assert log_file.closed  # reset closes the files of the logger it replaces
    assert logger.get_dir() is None
    logger.configure(str(tmp_path / 'b'), format_strs=['log'])
    assert logger.get_dir() == str(tmp_path / 'b')


def test_default_formats_and_openai_logdir(tmp_path, monkeypatch):
    assert logger.LOG_OUTPUT_FORMATS == ['stdout', 'log', 'json']
    monkeypatch.setenv('OPENAI_LOGDIR', str(tmp_path / 'env'))
    logger.configure()
    assert logger.get_dir() == str(tmp_path / 'env')
    assert sorted(os.listdir(tmp_path / 'env')) == ['log.txt', 'progress.json']


def test_levels_and_messages(tmp_path):
    assert (logger.DEBUG, logger.INFO, logger.WARN, logger.ERROR, logger.DISABLED) == (10, 20, 30, 40, 50)
    logger.configure(str(tmp_path), format_strs=['log', 'json'])
    logger.debug('hidden')
    logger.info('shown ', 'info')
    logger.set_level(logger.DEBUG)
    logger.debug('debug now')
    logger.set_level(logger.ERROR)
    logger.warn('hidden warn')
    logger.error('an error')
    logger.log('warn level', level=logger.WARN)
    logger.set_level(logger.DISABLED)
    logger.record_tabular('x', 1)
    assert logger.getkvs() == {'x': 1}
    logger.dump_tabular()  # DISABLED: nothing written, values kept
    assert logger.getkvs() == {'x': 1}
    logger.reset()
    assert read(tmp_path / 'log.txt') == 'Logging to %s\nshown info\ndebug now\nan error\n' % tmp_path
    assert read(tmp_path / 'progress.json') == ''


def test_append_mode_keeps_earlier_logs(tmp_path):
    logger.configure(str(tmp_path), format_strs=['log', 'json', 'csv'])
    logger.logkvs({'a': 1, 'b': 2})
    logger.dumpkvs()
    logger.reset()
    # A resumed run appends; a new key extends the CSV header of the existing file.
    logger.configure(str(tmp_path), format_strs=['log', 'json', 'csv'], append=True)
    logger.logkvs({'a': 3, 'c': 4})
    logger.dumpkvs()
    logger.reset()
    assert read(tmp_path / 'log.txt') == ('Logging to {0}\n---------\n| a | 1 |\n| b | 2 |\n---------\n'
                                          'Logging to {0}\n---------\n| a | 3 |\n| c | 4 |\n---------\n'
                                          .format(tmp_path))
    assert read(tmp_path / 'progress.json') == '{"a": 1, "b": 2}\n{"a": 3, "c": 4}\n'
    assert read(tmp_path / 'progress.csv') == 'a,b,c\n1,2,\n3,,4\n'
    # Without append (the legacy 'wt'), the files start again.
    logger.configure(str(tmp_path), format_strs=['log', 'json', 'csv'])
    logger.reset()
    assert read(tmp_path / 'log.txt') == 'Logging to %s\n' % tmp_path
    assert read(tmp_path / 'progress.json') == '' and read(tmp_path / 'progress.csv') == ''


def test_import_is_fast_and_tensorflow_free():
    code = 'import sys, utils, utils.plumbing.logger; print("tensorflow" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'


def test_resumed_scalars_replace_the_steps_after_the_checkpoint_in_tensorboard(tmp_path):
    """A run killed after writing steps 1000-3000 and resumed from its checkpoint at step 2000 writes 3000 and
    4000 again: TensorBoard must show each step once, with the values of the resumed run. (The accumulator is
    the one the TensorBoard server uses; it purges on SessionLog.START.)"""
    import tensorflow as tf
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    def curve():
        accumulator = EventAccumulator(str(tmp_path))
        accumulator.Reload()
        return [(event.step, float(tf.make_ndarray(event.tensor_proto))) for event in accumulator.Tensors('train/nll')]

    first = logger.TensorBoardScalars(str(tmp_path))
    for step, value in ((1000, 100.0), (2000, 95.0), (3000, 92.0)):
        first.write({'train/nll': value}, step)
    first.close()
    resumed = logger.TensorBoardScalars(str(tmp_path), restart_step=2001)
    for step, value in ((3000, 91.5), (4000, 90.0)):
        resumed.write({'train/nll': value}, step)
    resumed.close()
    assert curve() == [(1000, 100.0), (2000, 95.0), (3000, 91.5), (4000, 90.0)]
    # a second resume of the same folder (the marker must sort after every older file again)
    again = logger.TensorBoardScalars(str(tmp_path), restart_step=3001)
    again.write({'train/nll': 89.0}, 4000)
    again.close()
    assert curve() == [(1000, 100.0), (2000, 95.0), (3000, 91.5), (4000, 89.0)]
    # without the marker both versions of a step would stay
    plain = logger.TensorBoardScalars(str(tmp_path))
    plain.write({'train/nll': 1.0}, 4000)
    plain.close()
    assert [step for step, _ in curve()].count(4000) == 2


def test_run_directory_scalars_read_right_by_tensorboard_and_by_legacy_scripts(tmp_path):
    """The legacy FileWriter wrote `simple_value` scalars: TensorBoard (the server's plugin accumulator and the
    classic EventAccumulator) and a script written for legacy runs (`summary_iterator`, `value.simple_value`)
    must all read the values written, also across the restart marker of a resumed run."""
    import glob
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator

    first = logger.TensorBoardScalars(str(tmp_path))
    first.write({'train/elbo': np.float32(24.5), 'train/nll': 88.25}, 1000)
    first.write({'train/elbo': 23.0, 'train/nll': 87.5}, 2000)
    first.close()
    resumed = logger.TensorBoardScalars(str(tmp_path), restart_step=2000)  # step 2000 written again
    resumed.write({'train/elbo': 22.75, 'train/nll': 87.0}, 2000)
    resumed.close()

    legacy_script = {}
    for path in sorted(glob.glob(str(tmp_path / 'events.out.tfevents.*'))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                legacy_script.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert legacy_script == {'train/elbo': [(1000, 24.5), (2000, 23.0), (2000, 22.75)],
                             'train/nll': [(1000, 88.25), (2000, 87.5), (2000, 87.0)]}

    server = plugin_event_accumulator.EventAccumulator(str(tmp_path))
    server.Reload()
    assert {tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in server.Tensors(tag)]
            for tag in server.Tags()['tensors']} == {'train/elbo': [(1000, 24.5), (2000, 22.75)],
                                                     'train/nll': [(1000, 88.25), (2000, 87.0)]}
    assert all(server.SummaryMetadata(tag).plugin_data.plugin_name == 'scalars' for tag in server.Tags()['tensors'])
    classic = event_accumulator.EventAccumulator(str(tmp_path))
    classic.Reload()
    assert {tag: [(e.step, e.value) for e in classic.Scalars(tag)] for tag in classic.Tags()['scalars']} == {
        'train/elbo': [(1000, 24.5), (2000, 22.75)], 'train/nll': [(1000, 88.25), (2000, 87.0)]}


def test_a_new_writer_sorts_after_event_files_of_the_same_second(tmp_path):
    """Event files are read in name order; a file of the same second from another process (here a name that
    sorts after ours, 'zzz' host) must not be read after the resumed writer's: the writer waits for the next
    second. Otherwise the old step 3000 would survive the restart marker (seen when two writers of one
    process crossed the file counter 9 -> 10 in one second)."""
    import time

    import tensorflow as tf
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    from utils.legacy import runs as legacy_runs
    stamp = int(time.time()) + 1  # the same second as the writer below, at the latest
    with tf.io.TFRecordWriter(str(tmp_path / ('events.out.tfevents.%d.zzz.99999.99.v2' % stamp))) as records:
        records.write(tf.compat.v1.Event(wall_time=stamp, file_version='brain.Event:2').SerializeToString())
        for step, value in ((1000, 100.0), (2000, 95.0), (3000, 92.0)):
            summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag='train/nll', simple_value=value)])
            records.write(tf.compat.v1.Event(wall_time=stamp, step=step, summary=summary).SerializeToString())
    resumed = logger.TensorBoardScalars(str(tmp_path), restart_step=2001)
    resumed.write({'train/nll': 91.5}, 3000)
    resumed.close()
    expected = [(1000, 100.0), (2000, 95.0), (3000, 91.5)]
    assert legacy_runs.read_event_scalars(str(tmp_path)) == {'train/nll': expected}
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors('train/nll')] == expected
