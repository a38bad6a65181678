"""Checks for the functions you write in dlnd_face_generation.ipynb.

Each test builds its graph in a fresh tf.Graph, then prints "Tests Passed" or raises an
AssertionError whose message says what is wrong and how to fix it. The tests judge what the
code builds and does (shapes, variables, ops, values), not how it is written.
"""
import functools
import inspect

import numpy as np

import helper

tf = helper.import_tensorflow()  # tensorflow.compat.v1

BATCH_NORM_OPS = {'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'Rsqrt'}
LAYER_OPS = {'Conv2D', 'Conv2DBackpropInput', 'MatMul'}
LEAKY_RELU_OPS = {'LeakyRelu', 'Maximum'}
IMAGE_SHAPE = (28, 28)
DISCRIMINATOR_SCOPE = "pass reuse to tf.variable_scope('discriminator', reuse=reuse)"
GENERATOR_SCOPE = "use tf.variable_scope('generator', reuse=not is_train)"


def _fresh_graph(test):
    """Run a test in its own graph, so tests never see each other's variables."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        with tf.Graph().as_default():
            test(*args, **kwargs)
        print('Tests Passed')
    return wrapper


def _check(condition, message):
    if not condition:
        raise AssertionError(message)


def _shape(tensor):
    return None if tensor.shape.rank is None else tensor.shape.as_list()


def _check_tensor(tensor, what, shape, dtype=tf.float32):
    _check(isinstance(tensor, tf.Tensor), f'{what} must be a tf.Tensor, found {type(tensor).__name__}')
    _check(tensor.shape.rank == len(shape),
           f'{what} must have rank {len(shape)} (shape {list(shape)}), found rank {tensor.shape.rank}')
    _check(_shape(tensor) == list(shape), f'{what} must have shape {list(shape)}, found {_shape(tensor)}')
    _check(tensor.dtype == dtype, f'{what} must be {dtype.name}, found {tensor.dtype.name}')


def _check_placeholder(tensor, what, shape):
    _check_tensor(tensor, what, shape)
    _check(tensor.op.type in ('Placeholder', 'PlaceholderWithDefault'),
           f'{what} must be a tf.placeholder, found a {tensor.op.type} op')


def _variables_outside(scope):
    return [v.name for v in tf.global_variables() if not v.name.startswith(scope + '/')]


def _ops_in(scope, types):
    return [op for op in tf.get_default_graph().get_operations()
            if op.name.startswith(scope + '/') and op.type in types]


def _layer_ops_after(op):
    """Ops reached forward from `op` up to (not including) the next conv or dense layer."""
    seen, frontier = set(), [op]
    while frontier:
        for out in frontier.pop().outputs:
            for consumer in out.consumers():
                if consumer not in seen and consumer.type not in LAYER_OPS:
                    seen.add(consumer)
                    frontier.append(consumer)
    return seen


def _layer_ops_before(tensor):
    """Ops reached backward from `tensor` down to (not including) the conv or dense layer making it."""
    seen, frontier = set(), [tensor.op]
    while frontier:
        op = frontier.pop()
        if op in seen or op.type in LAYER_OPS:
            continue
        seen.add(op)
        frontier.extend(t.op for t in op.inputs)
    return seen


def _has_batch_norm(ops):
    return any(op.type in BATCH_NORM_OPS for op in ops)


def _first_layer(layers, input_tensor):
    """The layer op that reads `input_tensor` with no other layer in between, or None."""
    return next((op for op in layers if input_tensor.op in _layer_ops_before(op.inputs[0])), None)


def _new_variables(build):
    before = set(tf.global_variables())
    result = build()
    return result, [v.name for v in tf.global_variables() if v not in before]


def _build(make, call, fix):
    """Run a graph-building call; TensorFlow's variable-sharing errors become one line with the fix."""
    try:
        return make()
    except ValueError as e:
        raise AssertionError(f'{call} failed: {fix} ({str(e).splitlines()[0]})') from None


def _bound_arguments(function, args, kwargs):
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


@_fresh_graph
def test_model_inputs(model_inputs):
    width, height, channels, z_dim = 28, 28, 3, 100
    result = model_inputs(width, height, channels, z_dim)
    _check(isinstance(result, (tuple, list)) and len(result) == 3,
           'model_inputs must return 3 tensors: (real images, z, learning rate)')
    real, z, learning_rate = result
    _check_placeholder(real, 'the real-image input (1st returned)', [None, width, height, channels])
    _check_placeholder(z, 'the z input (2nd returned)', [None, z_dim])
    _check_placeholder(learning_rate, 'the learning-rate input (3rd returned)', [])


@_fresh_graph
def test_discriminator(discriminator):
    images = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, 3])
    result = discriminator(images)
    _check(isinstance(result, (tuple, list)) and len(result) == 2,
           'discriminator must return 2 tensors: (output, logits)')
    out, logits = result
    _check_tensor(logits, "the discriminator's logits (2nd returned)", [None, 1])
    _check_tensor(out, "the discriminator's output (1st returned)", [None, 1])
    _check(out.op.type == 'Sigmoid' and out.op.inputs[0] is logits,
           f"the discriminator's output must be tf.sigmoid(logits), found a {out.op.type} op")

    outside = _variables_outside('discriminator')
    _check(tf.trainable_variables() and not outside,
           f"discriminator's variables must be created in tf.variable_scope('discriminator'); found {outside}")
    convs = _ops_in('discriminator', {'Conv2D'})
    _check(len(convs) >= 2, f'discriminator must use convolution layers, found {len(convs)}')
    _check(all(op.get_attr('padding') == b'SAME' for op in convs),
           "discriminator's convolutions must use padding='same'")
    _check(any(max(op.get_attr('strides')) > 1 for op in convs),
           "discriminator must downsample with strided convolutions (strides=2)")
    _check(_ops_in('discriminator', LEAKY_RELU_OPS),
           'discriminator must use leaky ReLU: tf.nn.leaky_relu(x, alpha) or tf.maximum(alpha * x, x)')
    first_layer = _first_layer(_ops_in('discriminator', LAYER_OPS), images)
    _check(first_layer is not None, 'discriminator must start with a convolution or dense layer on the images')
    _check(not _has_batch_norm(_layer_ops_after(first_layer)),
           "discriminator must not apply batch normalization to its first layer")

    _, created = _build(lambda: _new_variables(lambda: discriminator(images, reuse=True)),
                        'discriminator(images, reuse=True)', DISCRIMINATOR_SCOPE)
    _check(not created, f'discriminator(images, reuse=True) created new variables {created}: {DISCRIMINATOR_SCOPE}')


@_fresh_graph
def test_generator(generator):
    z_dim, channels = 100, 5
    z = tf.placeholder(tf.float32, [None, z_dim])
    out = _build(lambda: generator(z, channels, is_train=True), 'generator(z, ..., is_train=True)', GENERATOR_SCOPE)
    _check_tensor(out, "the generator's output", [None, *IMAGE_SHAPE, channels])
    _check(out.op.type == 'Tanh', f"the generator's output must come from tf.tanh, found a {out.op.type} op")
    outside = _variables_outside('generator')
    _check(tf.trainable_variables() and not outside,
           f"generator's variables must be created in tf.variable_scope('generator'); found {outside}")
    _check(tf.get_collection(tf.GraphKeys.UPDATE_OPS),
           'generator(is_train=True) added no batch-norm updates to UPDATE_OPS: use '
           'tf.layers.batch_normalization(x, training=is_train)')

    last_layer_ops = _layer_ops_before(out)
    _check(not _has_batch_norm(last_layer_ops), "generator must not apply batch normalization to its last layer")
    last_layer = {t.op for op in last_layer_ops for t in op.inputs if t.op.type in LAYER_OPS}
    for op in _ops_in('generator', LAYER_OPS):
        _check(op in last_layer or _has_batch_norm(_layer_ops_after(op)),
               f'generator layer {op.name} has no batch normalization: every layer but the last needs it')

    sample, created = _build(lambda: _new_variables(lambda: generator(z, channels, is_train=False)),
                             'generator(z, ..., is_train=False)', GENERATOR_SCOPE)
    _check(not created, f'generator(z, ..., is_train=False) created new variables {created}: {GENERATOR_SCOPE}')
    _check_tensor(sample, "the generator's output with is_train=False", [None, *IMAGE_SHAPE, channels])
    _check_uses_moving_statistics(sample, z, z_dim)


def _check_uses_moving_statistics(sample, z, z_dim):
    """With is_train=False each image must depend on its own z only, not on the rest of the batch."""
    rng = np.random.default_rng(0)
    a, b, c = rng.uniform(-1, 1, (3, 1, z_dim))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(sample, {z: np.concatenate([a, b])})[0]
        second = sess.run(sample, {z: np.concatenate([a, c])})[0]
    _check(np.allclose(first, second, atol=1e-5),
           'generator(z, ..., is_train=False) uses batch statistics: pass training=is_train to '
           'tf.layers.batch_normalization so sampling uses the moving averages')


class _CallRecorder:
    """Stands in for discriminator/generator inside model_loss, recording how it is called."""

    def __init__(self, function, replacement=None):
        self.function, self.replacement = function, replacement
        self.arguments, self.results = [], []

    def __call__(self, *args, **kwargs):
        self.arguments.append(_bound_arguments(self.function, args, kwargs))
        result = (self.replacement or self.function)(*args, **kwargs)
        self.results.append(result)
        return result


def _call_model_loss(model_loss, input_real, input_z, channels, discriminator=None, generator=None):
    """Call model_loss with its discriminator and generator recorded (and optionally replaced)."""
    namespace = model_loss.__globals__
    _check('discriminator' in namespace and 'generator' in namespace,
           'model_loss must call the discriminator and generator functions defined above')
    d = _CallRecorder(namespace['discriminator'], discriminator)
    g = _CallRecorder(namespace['generator'], generator)
    saved = namespace['discriminator'], namespace['generator']
    namespace['discriminator'], namespace['generator'] = d, g
    try:
        result = model_loss(input_real, input_z, channels)
    except ValueError as e:
        _check_call_arguments(d.arguments, g.arguments, input_real)
        raise AssertionError(f'model_loss failed: {str(e).splitlines()[0]}') from None
    finally:
        namespace['discriminator'], namespace['generator'] = saved
    _check(isinstance(result, (tuple, list)) and len(result) == 2, 'model_loss must return (d_loss, g_loss)')
    _check(len(g.results) == 1, f'model_loss must call generator once, found {len(g.results)} calls')
    _check(len(d.arguments) == 2,
           f'model_loss must call discriminator twice (real, then fake), found {len(d.arguments)} calls')
    _check_call_arguments(d.arguments, g.arguments, input_real, fake=g.results[0])
    return result


def _first_argument(arguments):
    return next(iter(arguments.values()))


def _check_call_arguments(d_arguments, g_arguments, input_real, fake=None):
    """The calls the rubric asks for: generator(z, C, is_train=True), discriminator(real, reuse=False),
    discriminator(fake, reuse=True); `fake` is the generator's output once known."""
    _check(all(args.get('is_train', True) is True for args in g_arguments),
           'model_loss must call generator(input_z, out_channel_dim, is_train=True)')
    if d_arguments:
        real = d_arguments[0]
        _check(_first_argument(real) is input_real and not real.get('reuse', False),
               'model_loss must first call discriminator(input_real, reuse=False)')
    if len(d_arguments) > 1 and fake is not None:
        second = d_arguments[1]
        _check(_first_argument(second) is fake and second.get('reuse') is True,
               "model_loss must then call discriminator(generator's output, reuse=True)")


@_fresh_graph
def test_model_loss(model_loss):
    channels, z_dim = 4, 100
    input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    input_z = tf.placeholder(tf.float32, [None, z_dim])
    d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels)
    _check_tensor(d_loss, 'd_loss', [])
    _check_tensor(g_loss, 'g_loss', [])
    outside = [v for v in _variables_outside('discriminator') if not v.startswith('generator/')]
    _check(not outside, f"model_loss created variables outside the two networks' scopes: {outside}")
    _check_label_smoothing(model_loss, channels, z_dim)


def _check_label_smoothing(model_loss, channels, z_dim, logit=10.0):
    """Find the labels behind d_loss by feeding confident discriminator scores.

    With real scores r and fake scores f (each +-logit), d_loss = c * (CE(r, real_label) + CE(f, fake_label))
    for some scale c (1 for a sum, 0.5 for a mean); three settings give c and both labels.
    """
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
        input_z = tf.placeholder(tf.float32, [None, z_dim])
        real_score, fake_score = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])

        def scripted_discriminator(images, *args, **kwargs):
            score = real_score if images is input_real else fake_score
            logits = tf.zeros_like(images[:, :1, 0, 0]) + score  # shape (batch, 1)
            return tf.sigmoid(logits), logits

        def scripted_generator(z, out_channel_dim, *args, **kwargs):
            return tf.zeros_like(z[:, :1, None, None]) + tf.zeros([*IMAGE_SHAPE, out_channel_dim])

        d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels,
                                          scripted_discriminator, scripted_generator)
        feed_base = {input_real: np.zeros((2, *IMAGE_SHAPE, channels)), input_z: np.zeros((2, z_dim))}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())

            def losses(real, fake):
                return sess.run([d_loss, g_loss], {**feed_base, real_score: real, fake_score: fake})
            (a, g_fooled_not), (b, g_fooled) = losses(logit, -logit), losses(logit, logit)
            c_loss, _ = losses(-logit, -logit)
    p, q, a = (c_loss - a) / logit, (b - a) / logit, a / logit
    scale = a + (p + q) / 2
    _check(scale > 0.1, 'd_loss must be the sum (or mean) of the real and fake sigmoid cross-entropy losses')
    real_label, fake_label = (p / scale + 1) / 2, (1 - q / scale) / 2
    _check(abs(fake_label) < 0.02, f'the fake labels in d_loss must be 0 (one-sided label smoothing), '
                                   f'found {fake_label:.2f}')
    _check(0.7 <= real_label <= 0.98, f'the real labels in d_loss must be smoothed to about 0.9 '
                                      f'(one-sided label smoothing), found {real_label:.2f}')
    _check(g_fooled < g_fooled_not, 'g_loss must fall when the discriminator takes the fakes for real: '
                                    "use labels of 1 with the discriminator's fake logits")


@_fresh_graph
def test_model_opt(model_opt):
    z = tf.placeholder(tf.float32, [None, 4])
    learning_rate, beta1 = tf.placeholder(tf.float32, []), 0.45
    shared = tf.get_variable('shared_weight', [], initializer=tf.ones_initializer())
    with tf.variable_scope('generator'):
        hidden = tf.layers.batch_normalization(tf.layers.dense(z, 4), training=True)
    with tf.variable_scope('discriminator'):
        logits = tf.layers.dense(hidden * shared, 1)
    d_loss = tf.reduce_mean(tf.square(logits - 1.0))
    g_loss = tf.reduce_mean(tf.square(logits + 1.0))

    result = model_opt(d_loss, g_loss, learning_rate, beta1)
    _check(isinstance(result, (tuple, list)) and len(result) == 2,
           'model_opt must return (d_train_opt, g_train_opt)')
    beta1_powers = [v for v in tf.global_variables() if 'beta1_power' in v.name]
    _check(len(beta1_powers) >= 2, 'model_opt must use tf.train.AdamOptimizer for both networks')
    moving = [v for v in tf.global_variables() if 'moving_mean' in v.name]
    feed = {z: np.random.default_rng(0).normal(size=(8, 4)), learning_rate: 0.01}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _check(np.allclose(sess.run(beta1_powers), beta1), f'model_opt must pass beta1 to AdamOptimizer '
                                                           f'(beta1={beta1} gave {sess.run(beta1_powers)})')
        for name, scope, train_op in zip(('d_train_opt', 'g_train_opt'), ('discriminator', 'generator'), result):
            changed = _changed_by(sess, train_op, feed)
            own = {v.name for v in tf.trainable_variables(scope)}
            wrong = sorted((changed & {v.name for v in tf.trainable_variables()}) - own)
            _check(not wrong, f"{name} changed {wrong}: pass var_list=[the trainable variables whose names "
                              f"start with '{scope}/'] to minimize")
            _check(changed & own, f'{name} changed none of the {scope} variables')
            _check({v.name for v in moving} <= changed,
                   f'running {name} did not update the batch-norm moving averages: build the optimizers inside '
                   'with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))')


def _changed_by(sess, train_op, feed):
    variables = tf.global_variables()
    before = sess.run(variables)
    sess.run(train_op, feed)
    after = sess.run(variables)
    return {v.name for v, x, y in zip(variables, before, after) if not np.array_equal(x, y)}
