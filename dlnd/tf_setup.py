"""TensorFlow for this project's tf.compat.v1 graph code, set up the one way that works on TF 2.16+.

Since TensorFlow 2.16, `tf.compat.v1.layers` comes from Keras 2 (the tf-keras package) and only
when TF_USE_LEGACY_KERAS=1 is set before TensorFlow first resolves Keras; otherwise every layer
raises "not available with Keras 3". Importing helper or problem_unittests sets the variable,
and import_tensorflow() checks that it took effect.
"""
import os
import warnings

LEGACY_KERAS_ENV = 'TF_USE_LEGACY_KERAS'


def use_legacy_keras():
    """Ask TensorFlow for Keras 2 layers; must run before any code touches tf.keras or tf.layers."""
    os.environ[LEGACY_KERAS_ENV] = '1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def import_tensorflow():
    """Return `tensorflow.compat.v1` in graph mode, with resource variables, working tf.layers, quiet logs
    and warm devices."""
    use_legacy_keras()
    import tensorflow as tf2
    tf2.get_logger().setLevel('ERROR')  # before disable_v2_behavior, whose deprecation note would go to stdout
    tf2.compat.v1.disable_v2_behavior()
    # Resource variables give every sess.run one consistent snapshot of each variable, so train()
    # can update D and G in one run: G's gradient reads D's weights from before D's update.
    tf2.compat.v1.enable_resource_variables()
    tf = tf2.compat.v1
    warnings.filterwarnings('ignore', message=r'`tf\.layers\.', category=UserWarning)
    _check_layers(tf, tf2.__version__)
    _warm_up(tf2)
    return tf


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
