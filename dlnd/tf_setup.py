"""TensorFlow for this project's tf.compat.v1 graph code, set up the one way that works on TF 2.16+.

Since TensorFlow 2.16, `tf.compat.v1.layers` comes from Keras 2 (the tf-keras package) and only
when TF_USE_LEGACY_KERAS=1 is set before TensorFlow first resolves Keras; otherwise every layer
raises "not available with Keras 3". Importing helper or problem_unittests sets the variable,
and import_tensorflow() checks that it took effect.

TensorFlow's C++ code logs to the process's stderr (lines like "I0000 ... cuda_platform.cc" and absl's
"All log messages before absl::InitializeLog()"), which Jupyter shows as red text under a cell. None of
them is an error a learner must act on (real errors arrive as Python exceptions), so they are kept off
the screen: TF_CPP_MIN_LOG_LEVEL=3 for what TensorFlow logs itself, and the lines logged while TensorFlow
loads (before it reads that variable) are held back as far as the level asks. Set TF_CPP_MIN_LOG_LEVEL=0
before importing to see them all. At run time TensorFlow 2.20 ignores the level, so what would log there
(grappler's remapper failing on the CPU) is avoided for every session, not only train's (CPU_GRAPPLER).
"""
import contextlib
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

LEGACY_KERAS_ENV = 'TF_USE_LEGACY_KERAS'
LOG_LEVEL_ENV = 'TF_CPP_MIN_LOG_LEVEL'
ONEDNN_ENV = 'TF_ENABLE_ONEDNN_OPTS'
MIXED_PRECISION_ENV = 'DLND_MIXED_PRECISION'  # auto (the default): bfloat16 where the CPU has it; 0: float32; 1: always
BFLOAT16_CPU_FLAGS = {'amx_bf16', 'avx512_bf16'}
NATIVE_LOG_LINE = re.compile(r'^([IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog\(\))')
SEVERITIES = 'IWEF'  # TF_CPP_MIN_LOG_LEVEL=1 hides I lines, 2 also W, 3 also E
# Grappler's choices on the CPU, for every session: the remapper is off because on oneDNN it fuses Conv2D + BiasAdd
# + LeakyRelu although the leaky ReLU's gradient still reads the BiasAdd, fails ("remapper failed: ... fanout ...
# exist for missing node"), logs it and drops its whole pass, so the graph ran without it anyway.
CPU_GRAPPLER = {'remapping': False}
# Whether this TensorFlow logs its bfloat16 graph pass at run time although the log level hides such lines
# (TensorFlow 2.20 does, once per graph): measured once by import_tensorflow() where it matters (None until
# then), read by mixed_precision_choice(), whose auto then keeps float32 rather than print those lines.
runtime = {'bfloat16_pass_logs': None}


def set_tensorflow_environment():
    """Ask TensorFlow for Keras 2 layers, quiet C++ logs and oneDNN's CPU kernels; must run before anything
    imports TensorFlow. oneDNN is on by default only on CPUs with AVX-512; on others (AVX2) it still
    trains the notebook's networks about 1.8x faster (bench/bench_train.py)."""
    os.environ[LEGACY_KERAS_ENV] = '1'
    os.environ.setdefault(LOG_LEVEL_ENV, '3')
    if not has_nvidia_gpu():  # oneDNN is for the CPU's kernels; a GPU machine keeps TensorFlow's own default
        os.environ.setdefault(ONEDNN_ENV, '1')


def has_nvidia_gpu():
    """Whether an NVIDIA driver is loaded, read before TensorFlow is imported (as on Colab's GPU runtimes)."""
    return any(Path(path).exists() for path in ('/proc/driver/nvidia/version', '/dev/nvidia0'))


def import_tensorflow():
    """Return `tensorflow.compat.v1` in graph mode, with resource variables, working tf.layers, quiet logs
    and warm devices."""
    set_tensorflow_environment()
    with _native_logs_held_back() as held:
        import tensorflow as tf2
        tf2.get_logger().setLevel('ERROR')  # before disable_v2_behavior, whose deprecation note would go to stdout
        tf2.compat.v1.disable_v2_behavior()
        # Resource variables give every sess.run one consistent snapshot of each variable, so train()
        # can update D and G in one run: G's gradient reads D's weights from before D's update.
        tf2.compat.v1.enable_resource_variables()
        tf = tf2.compat.v1
        warnings.filterwarnings('ignore', message=r'`tf\.layers\.', category=UserWarning)
        _check_layers(tf, tf2.__version__)
        on_cpu = not tf2.config.list_physical_devices('GPU')
        if on_cpu:
            tf2.config.optimizer.set_experimental_options(CPU_GRAPPLER)  # the default of every tf.Session()
        if os.environ.get('DLND_FORK_AFTER_IMPORT') == '1':
            return tf  # no session yet: a process that forks after this keeps working (dlnd.grading.learner_run)
        _warm_up(tf2)
        if held is not None and on_cpu and runtime['bfloat16_pass_logs'] is None and cpu_has_bfloat16():
            runtime['bfloat16_pass_logs'] = _bfloat16_pass_logs(tf2, held)
    return tf


def _bfloat16_pass_logs(tf2, held):
    """Run a tiny graph through the bfloat16 pass while stderr is held back: does a line the level hides appear?"""
    from tensorflow.core.protobuf import rewriter_config_pb2
    config = tf2.compat.v1.ConfigProto()
    rewrites = config.graph_options.rewrite_options
    rewrites.auto_mixed_precision_onednn_bfloat16 = rewriter_config_pb2.RewriterConfig.ON
    rewrites.min_graph_nodes = -1  # grappler leaves graphs this small alone by default
    sys.stderr.flush()
    start = os.lseek(held.fileno(), 0, os.SEEK_CUR)
    with tf2.Graph().as_default(), tf2.compat.v1.Session(config=config) as session:
        weights = tf2.ones((8, 8))
        session.run(tf2.matmul(weights, weights))
    held.seek(start)
    return any(map(_hidden_by_level, held.read().decode(errors='replace').splitlines()))


@contextlib.contextmanager
def _native_logs_held_back():
    """Send the process's stderr to a file while TensorFlow loads, then pass on every line of it but the C++ log
    lines that TF_CPP_MIN_LOG_LEVEL hides (Python's own warnings still show). Does nothing at level 0."""
    if not _log_level():
        yield None
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode='w+b') as held:
        os.dup2(held.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors='replace').splitlines(keepends=True)
                    if not _hidden_by_level(line)]
            sys.stderr.write(''.join(kept))


def _hidden_by_level(line):
    """Whether TF_CPP_MIN_LOG_LEVEL hides this C++ log line (absl's preamble goes with the I lines)."""
    hidden = SEVERITIES[:_log_level()]
    return bool(hidden and NATIVE_LOG_LINE.match(line) and (line[0] in hidden or line.startswith('WARNING: All')))


def _log_level():
    """TF_CPP_MIN_LOG_LEVEL as TensorFlow reads it: 0 to 3, anything else counts as 0."""
    level = os.environ.get(LOG_LEVEL_ENV, '0').strip()
    return min(int(level), 3) if level.isdigit() else 0


def _check_layers(tf, version):
    try:
        import tf_keras
    except ImportError as e:
        raise RuntimeError(f'tf.layers needs the tf-keras package matching TensorFlow {version}: '
                           f'pip install "tf-keras=={version.rsplit(".", 1)[0]}.*"') from e
    if tf_keras.__version__.split('.')[:2] != version.split('.')[:2]:
        raise RuntimeError(f'tf-keras {tf_keras.__version__} does not match TensorFlow {version}: '
                           f'pip install "tf-keras=={version.rsplit(".", 1)[0]}.*"')
    try:
        tf.layers.dense
    except AttributeError as e:
        raise RuntimeError('TensorFlow loaded Keras 3 before TF_USE_LEGACY_KERAS=1 was set, so tf.layers '
                           'cannot work in this process. Restart the kernel and import helper before '
                           'anything that uses tf.keras or tf.layers.') from e


def _warm_up(tf2):
    """Trigger TensorFlow's one-time C++ log lines (device probe, graph optimizer) here, not later."""
    tf2.config.list_physical_devices()
    with tf2.Graph().as_default(), tf2.compat.v1.Session() as session:
        session.run(tf2.constant(0.0) + 1.0)


def device_summary(tf):
    """One line on where training will run."""
    gpus = tf.config.list_physical_devices('GPU') if hasattr(tf, 'config') else []
    if gpus:
        return f'Training on GPU: {", ".join(gpu.name for gpu in gpus)}'
    return 'No GPU found: training will run on the CPU, which is much slower (minutes per epoch).'


def cpu_flags(cpuinfo='/proc/cpuinfo'):
    """Linux's CPU flags (empty where /proc/cpuinfo cannot be read)."""
    try:
        return set(Path(cpuinfo).read_text().split())
    except OSError:
        return set()


def cpu_has_bfloat16(cpuinfo='/proc/cpuinfo'):
    """Whether the CPU computes bfloat16 in hardware (AMX or AVX-512 bf16), from Linux's CPU flags."""
    return bool(BFLOAT16_CPU_FLAGS & cpu_flags(cpuinfo))


def cpu_class(cpuinfo='/proc/cpuinfo'):
    """The class of CPU a speed figure holds for: AMX, AVX-512 bf16, AVX-512, AVX2 or older."""
    flags = cpu_flags(cpuinfo)
    classes = (('amx_bf16', 'AMX'), ('avx512_bf16', 'AVX-512 bf16'), ('avx512f', 'AVX-512'), ('avx2', 'AVX2'))
    return next((name for flag, name in classes if flag in flags), 'older than AVX2')


def mixed_precision_choice(setting=None, has_bfloat16=None):
    """(on, why) for bfloat16 mixed precision, from DLND_MIXED_PRECISION (auto, the default; 0 or 1) and the CPU.
    auto is on where the CPU computes bfloat16: there the same CPU time trains about 1.2x to 1.3x the batches
    to a Frechet distance no worse than float32's (three seeds on each of two such CPUs, docs/experiments.md)."""
    setting = (setting or os.environ.get(MIXED_PRECISION_ENV, 'auto')).strip().lower()
    if setting not in ('0', 'auto', '1'):
        raise ValueError(f'{MIXED_PRECISION_ENV}={setting!r}: use 0 (float32), auto (bfloat16 where the CPU has '
                         'AMX or AVX-512 bf16) or 1 (bfloat16 always)')
    has_bfloat16 = cpu_has_bfloat16() if has_bfloat16 is None else has_bfloat16
    if setting == '0':
        return False, f'float32, as {MIXED_PRECISION_ENV}=0 asks'
    if setting == '1':
        return True, f'{MIXED_PRECISION_ENV}=1' + ('' if has_bfloat16 else '; this CPU emulates bfloat16, slowly')
    if has_bfloat16 and runtime['bfloat16_pass_logs']:
        return False, (f'float32: this TensorFlow would log its bfloat16 pass under every cell whatever '
                       f'TF_CPP_MIN_LOG_LEVEL says; {MIXED_PRECISION_ENV}=1 trains in bfloat16 anyway')
    if has_bfloat16:
        return True, f'this CPU has AMX or AVX-512 bf16; {MIXED_PRECISION_ENV}=0 trains in float32'
    return False, 'float32: this CPU has neither AMX nor AVX-512 bf16'


def set_grading_defaults():
    """Where the grader sets DLND_GRADE_THREADS (call before the first session), every session's defaults: at most
    that many threads within an op and as many between ops (it runs one process per core, where more threads only
    contend), and no grappler: its rewrites take longer than the few steps a check runs."""
    if not os.environ.get('DLND_GRADE_THREADS'):
        return
    count = int(os.environ['DLND_GRADE_THREADS'])
    set_tensorflow_environment()
    import tensorflow as tf2
    tf2.config.threading.set_intra_op_parallelism_threads(count)
    tf2.config.threading.set_inter_op_parallelism_threads(count)
    tf2.config.optimizer.set_experimental_options({'disable_meta_optimizer': True})


def session_config(log=print):
    """The tf.ConfigProto for training sessions: tf.Session(config=helper.session_config()).

    On the CPU: grappler's CPU_GRAPPLER choices (which import_tensorflow() also makes every other session's
    default) and bfloat16 mixed precision (oneDNN's graph rewrite; the variables stay float32) as
    mixed_precision_choice() says. On a GPU: TensorFlow's defaults.
    """
    import tensorflow as tf2
    from tensorflow.core.protobuf import rewriter_config_pb2
    config = tf2.compat.v1.ConfigProto()
    if tf2.config.list_physical_devices('GPU'):
        log('Training on the GPU with TensorFlow\'s default graph optimizations')
        return config
    rewrites = config.graph_options.rewrite_options
    toggle = rewriter_config_pb2.RewriterConfig
    for option, on in CPU_GRAPPLER.items():
        setattr(rewrites, option, toggle.ON if on else toggle.OFF)
    on, why = mixed_precision_choice()
    if on:
        rewrites.auto_mixed_precision_onednn_bfloat16 = rewriter_config_pb2.RewriterConfig.ON
    log(f'bfloat16 mixed precision: {"on" if on else "off"} ({why})')
    return config
