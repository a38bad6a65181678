"""TensorFlow's set-up: no C++ log lines on a learner's screen, real errors still raised, the session settings."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from dlnd import tf_setup

# Train the notebook's own networks for two batches, then feed a wrong shape: the error must still arrive.
SCRIPT = '''
import numpy as np, helper
tf = helper.import_tensorflow()
from dlnd.notebook import load_functions
functions = load_functions(tf)
def batches(size):
    for _ in range(2):
        yield np.zeros((size, 28, 28, 1), np.float32)
with tf.Graph().as_default():
    functions['train'](1, 8, 16, 2e-4, 0.5, batches, (16, 28, 28, 1), 'L', show_every=1000)
with tf.Graph().as_default(), tf.Session(config=helper.session_config(log=lambda line: None)) as sess:
    z = tf.placeholder(tf.float32, (None, 4))
    try:
        sess.run(tf.reshape(z, (-1, 3)), {z: np.zeros((1, 4))})
    except tf.errors.InvalidArgumentError as e:
        print('raised:', e.message.splitlines()[-2] if len(e.message.splitlines()) > 1 else e.message)
'''


def run_script(script, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'TF_USE_LEGACY_KERAS')}
    environment.update(env, MPLBACKEND='Agg', PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, '-c', script], env=environment, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def native_log_lines(text):
    return [line for line in text.splitlines() if tf_setup.NATIVE_LOG_LINE.match(line)]


@pytest.fixture(scope='module')
def default_run():
    return run_script(SCRIPT)


def test_a_learner_sees_no_native_log_lines_and_still_gets_errors(default_run):
    assert default_run.returncode == 0, default_run.stderr
    assert native_log_lines(default_run.stderr + default_run.stdout) == []
    assert 'Finished after 2 batches' in default_run.stdout
    assert 'raised: Input to reshape is a tensor with 4 values' in default_run.stdout


def test_the_log_lines_are_there_to_hide_and_show_when_asked(default_run):
    # With logs asked for, the same run prints TensorFlow's C++ lines: the quiet default is what hides them.
    verbose = run_script(SCRIPT, TF_CPP_MIN_LOG_LEVEL='0')
    assert verbose.returncode == 0, verbose.stderr
    assert native_log_lines(verbose.stderr)


def test_the_remapper_no_longer_fails_on_the_training_graph_in_any_session():
    # oneDNN's remapper trips over Conv2D + BiasAdd + LeakyRelu when the gradient reads the BiasAdd and logs "remapper
    # failed" (on TensorFlow 2.20 whatever the log level). Forced on, it still does; by the project's defaults it is
    # asked in no session: train's (helper.session_config()) nor a plain tf.Session(), as the checks and learners open.
    forced = SCRIPT.replace('with tf.Graph().as_default():\n    functions', 'with tf.Graph().as_default():\n'
                            '    tf.config.optimizer.set_experimental_options({"remapping": True})\n'
                            '    helper.session_config = lambda **kw: None\n    functions')
    plain = SCRIPT.replace('with tf.Graph().as_default():\n    functions', 'with tf.Graph().as_default():\n'
                           '    helper.session_config = lambda **kw: None\n    functions')
    logs = dict(TF_CPP_MIN_LOG_LEVEL='0', TF_ENABLE_ONEDNN_OPTS='1')
    assert 'remapper failed' in run_script(forced, **logs).stderr
    assert 'remapper failed' not in run_script(plain, **logs).stderr
    assert 'remapper failed' not in run_script(SCRIPT, **logs).stderr


@pytest.mark.parametrize('level, shown', [('1', 'WEF'), ('2', 'EF'), ('3', 'F')])
def test_a_log_level_set_by_the_learner_hides_what_it_says_while_tensorflow_loads(level, shown):
    # TensorFlow logs its start-up lines before it reads TF_CPP_MIN_LOG_LEVEL; import_tensorflow holds back those the
    # level hides, so the usual advice (1, 2 or 3) works as it says. Here start-up logs I and E lines.
    result = run_script('import helper\ntf = helper.import_tensorflow()\nprint("ok")', TF_CPP_MIN_LOG_LEVEL=level)
    assert result.returncode == 0 and result.stdout == 'ok\n', result.stderr
    assert all(line[0] in shown for line in native_log_lines(result.stderr)), result.stderr
    assert 'All log messages before absl::InitializeLog()' not in result.stderr


@pytest.mark.parametrize('setting, has_bfloat16, on', [
    ('0', True, False), ('auto', True, True), ('auto', False, False), ('1', False, True), (' AUTO ', True, True)])
def test_mixed_precision_follows_the_setting_and_the_cpu(setting, has_bfloat16, on):
    assert tf_setup.mixed_precision_choice(setting, has_bfloat16)[0] is on


def test_bfloat16_is_the_default_where_the_cpu_computes_it(monkeypatch):
    monkeypatch.delenv('DLND_MIXED_PRECISION', raising=False)
    assert tf_setup.mixed_precision_choice(None, True) == (
        True, 'this CPU has AMX or AVX-512 bf16; DLND_MIXED_PRECISION=0 trains in float32')
    assert tf_setup.mixed_precision_choice(None, False) == (False, 'float32: this CPU has neither AMX nor AVX-512 bf16')


def test_auto_keeps_float32_where_tensorflow_would_log_its_bfloat16_pass(monkeypatch):
    # TensorFlow 2.20 logs "Running auto_mixed_precision_onednn_bfloat16 graph optimizer" whatever the log level:
    # import_tensorflow() finds that out (tests/compat.py runs it there), and auto then stays quiet in float32.
    monkeypatch.setitem(tf_setup.runtime, 'bfloat16_pass_logs', True)
    on, why = tf_setup.mixed_precision_choice('auto', True)
    assert not on and why.startswith('float32: this TensorFlow would log its bfloat16 pass under every cell')
    assert tf_setup.mixed_precision_choice('1', True)[0]


def test_this_tensorflow_was_probed_for_runtime_logs_where_the_cpu_has_bfloat16():
    result = run_script('import helper\ntf = helper.import_tensorflow()\nfrom dlnd import tf_setup\n'
                        'print(tf_setup.runtime["bfloat16_pass_logs"])')
    assert result.returncode == 0 and native_log_lines(result.stderr) == [], result.stderr
    # TensorFlow 2.21 (constraints.txt) honours the level at run time; without bf16 hardware nothing is probed.
    assert result.stdout == ('False\n' if tf_setup.cpu_has_bfloat16() else 'None\n')


def test_the_probe_runs_once_however_often_tensorflow_is_imported():
    # helper, problem_unittests and dlnd.checks.graph_checks each call import_tensorflow(); the probe is a session run.
    script = ('from unittest import mock\nimport helper\nfrom dlnd import tf_setup\n'
              'with mock.patch.object(tf_setup, "_bfloat16_pass_logs", wraps=tf_setup._bfloat16_pass_logs) as probe:\n'
              '    helper.import_tensorflow()\n    import problem_unittests\n    helper.import_tensorflow()\n'
              'print(probe.call_count)')
    result = run_script(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ('1\n' if tf_setup.cpu_has_bfloat16() else '0\n')


def test_an_unknown_mixed_precision_setting_is_refused():
    with pytest.raises(ValueError, match="DLND_MIXED_PRECISION='yes': use 0"):
        tf_setup.mixed_precision_choice('yes', True)


def test_bfloat16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('flags\t\t: fpu sse avx2 fma\n')
    assert not tf_setup.cpu_has_bfloat16(cpuinfo)
    cpuinfo.write_text('flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n')
    assert tf_setup.cpu_has_bfloat16(cpuinfo)
    assert not tf_setup.cpu_has_bfloat16(tmp_path / 'missing')


@pytest.mark.parametrize('flags, name', [
    ('fpu sse avx2 fma', 'AVX2'), ('avx2 avx512f avx512bw', 'AVX-512'), ('avx2 avx512f avx512_bf16', 'AVX-512 bf16'),
    ('avx512f avx512_bf16 amx_tile amx_bf16', 'AMX'), ('sse4_2', 'older than AVX2')])
def test_the_cpu_class_of_a_speed_figure_is_read_from_the_flags(tmp_path, flags, name):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text(f'flags\t\t: {flags}\n')
    assert tf_setup.cpu_class(cpuinfo) == name


@pytest.mark.parametrize('setting', ['0', '1'])
def test_session_config_turns_off_the_remapper_and_sets_mixed_precision(monkeypatch, setting):
    from tensorflow.core.protobuf import rewriter_config_pb2 as rewriter
    monkeypatch.setenv('DLND_MIXED_PRECISION', setting)
    printed = []
    rewrites = tf_setup.session_config(log=printed.append).graph_options.rewrite_options
    assert rewrites.remapping == rewriter.RewriterConfig.OFF
    assert (rewrites.auto_mixed_precision_onednn_bfloat16 == rewriter.RewriterConfig.ON) == (setting == '1')
    assert printed[0].startswith(f'bfloat16 mixed precision: {"on" if setting == "1" else "off"}')


def test_on_a_gpu_nothing_cpu_specific_is_forced(monkeypatch):
    # oneDNN, the remapper choice and bfloat16 are CPU matters: a GPU kernel keeps TensorFlow's own defaults.
    import tensorflow as tf2
    monkeypatch.setattr(tf2.config, 'list_physical_devices', lambda kind=None: ['GPU:0'] if kind == 'GPU' else [])
    monkeypatch.setenv('DLND_MIXED_PRECISION', '1')
    printed = []
    config = tf_setup.session_config(log=printed.append)
    assert config == tf2.compat.v1.ConfigProto()
    assert printed == ["Training on the GPU with TensorFlow's default graph optimizations"]
    monkeypatch.delenv(tf_setup.ONEDNN_ENV, raising=False)
    monkeypatch.setattr(tf_setup, 'has_nvidia_gpu', lambda: True)
    tf_setup.set_tensorflow_environment()
    assert tf_setup.ONEDNN_ENV not in os.environ
    monkeypatch.setattr(tf_setup, 'has_nvidia_gpu', lambda: False)
    tf_setup.set_tensorflow_environment()
    assert os.environ[tf_setup.ONEDNN_ENV] == '1'
