"""Checks for the functions you write in dlnd_face_generation.ipynb.

Each check builds its graph in a fresh tf.Graph and runs it, then prints "Tests Passed", followed
by any suggestions, or raises an AssertionError whose one-line message says what is wrong and how
to fix it. The checks judge what the code builds and does (shapes, variables, gradients, values),
never how it is written. They fail what the course's rubric requires or what breaks training;
what the course's reviewers only recommended (label smoothing, leaky ReLU, batch norm in the
generator, Adam with beta1 0.5) comes as a suggestion.
"""
import functools
import inspect

import numpy as np

import helper

tf = helper.import_tensorflow()  # tensorflow.compat.v1

IMAGE_SHAPE = (28, 28)
BATCH_SIZES = (2, 3, 64)  # the networks must give one result per image at each of these
LAYER_OPS = {'Conv2D', 'Conv2DBackpropInput', 'MatMul', 'BatchMatMulV2', 'DepthwiseConv2dNative'}
BATCH_NORM_OPS = {'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'Rsqrt'}
ACTIVATION_OPS = {'LeakyRelu', 'Maximum', 'Relu', 'Relu6', 'Elu', 'Selu', 'Tanh', 'Sigmoid', 'Softplus',
                  'Softsign', 'SelectV2', 'Select'}
PLAIN_RELU_OPS = {'Relu', 'Relu6'}
LEAKY_SLOPES = (0.05, 0.4)  # slopes outside this get a suggestion (the DCGAN paper used 0.2)
DISCRIMINATOR_SCOPE = "pass reuse to tf.variable_scope('discriminator', reuse=reuse)"
GENERATOR_SCOPE = "use tf.variable_scope('generator', reuse=not is_train)"


# --- running a check -------------------------------------------------------------------------------

def _graded(check):
    """A check run in a fresh graph: prints Tests Passed and its suggestions, or raises AssertionError."""
    @functools.wraps(check)
    def test(function):
        suggestions = run_check(check, function)
        print('Tests Passed')
        for suggestion in suggestions:
            print(f'Suggestion: {suggestion}')
    test.check = check
    return test


def run_check(check, function):
    """The suggestions of one check on `function` (AssertionError when it fails), in a fresh seeded graph."""
    suggestions = []
    with tf.Graph().as_default():
        tf.set_random_seed(0)  # random ops repeat in a fresh session: dropout cannot fake a batch dependence
        check(function, suggestions.append)
    return list(dict.fromkeys(suggestions))


def _check(condition, message):
    if not condition:
        raise AssertionError(message)


def _error_line(error):
    """The line of an exception's message that says what went wrong (TensorFlow wraps it in context)."""
    text = error.message if isinstance(error, tf.errors.OpError) else str(error)
    lines = [line for line in text.splitlines() if line and not line[0].isspace()
             and not line.startswith(('Graph execution error', 'Detected at node', 'Node:', 'File '))]
    return f'{type(error).__name__}: {lines[0] if lines else ""}'.rstrip(': ')


def _call(make, call, hint=''):
    """Run learner code that builds a graph; any error becomes one line naming the call (and the fix)."""
    try:
        return make()
    except AssertionError:
        raise
    except Exception as e:
        if isinstance(e, ValueError) and ('already exists' in str(e) or 'does not exist' in str(e)):
            raise AssertionError(f'{call} failed: {hint} ({_error_line(e)})') from None
        raise AssertionError(f'{call} raised {_error_line(e)}') from None


def _run(sess, fetches, feed, what, hint=''):
    """sess.run whose TensorFlow errors become one line naming what ran, the op that failed and the fix."""
    try:
        return sess.run(fetches, feed)
    except tf.errors.OpError as e:
        where = f' at {e.op.name}' if e.op is not None else ''
        raise AssertionError(f'{what} failed{where}: {_error_line(e)}{hint}') from None


def _check_signature(function, name, args, keyword):
    """The call the notebook makes must bind: e.g. generator(z, out_channel_dim, is_train=False)."""
    try:
        inspect.signature(function).bind(*args, **{keyword: True})
    except TypeError:
        raise AssertionError(f'{name} must accept the argument {keyword} (the notebook calls {name}(..., '
                             f'{keyword}=...)); its parameters are {inspect.signature(function)}') from None


# --- reading a graph -------------------------------------------------------------------------------

def _shape(tensor):
    return None if tensor.shape.rank is None else tensor.shape.as_list()


def _data_input(op):
    """The tensor a layer op transforms (not its weights)."""
    return op.inputs[2] if op.type == 'Conv2DBackpropInput' else op.inputs[0]


def _ancestors(tensors):
    """Every op the tensors are computed from."""
    seen, stack = set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(t.op for t in op.inputs)
    return seen


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


def _ops_in(scope, types):
    return [op for op in tf.get_default_graph().get_operations()
            if op.name.startswith(scope + '/') and op.type in types]


def _unwrap(tensor):
    """The tensor behind tf.identity and tf.reshape wrappers."""
    while tensor.op.type in ('Identity', 'Reshape'):
        tensor = tensor.op.inputs[0]
    return tensor


def _hidden_layers(output, scope):
    """{layer op: the ops between it and the next layer on the way to `output`} for each layer on the
    path to `output` except the one that makes it."""
    on_path = _ancestors([output])
    layers = [op for op in _ops_in(scope, LAYER_OPS) if op in on_path]
    between = {op: _layer_ops_after(op) & on_path for op in layers}
    return {op: ops for op, ops in between.items() if output.op not in ops and op is not output.op}


def _activations(layer, ops):
    """The nonlinear ops among `ops`; a tf.where counts only when its condition reads the layer's output
    (dropout's tf.where reads random numbers)."""
    return [op for op in ops if op.type in ACTIVATION_OPS
            and (op.type not in ('Select', 'SelectV2') or layer in _ancestors([op.inputs[0]]))]


def _leaky_slopes(activations):
    """The slopes of the leaky ReLUs: tf.nn.leaky_relu's alpha, or the constant in tf.maximum(alpha * x, x)."""
    slopes = []
    for op in activations:
        if op.type == 'LeakyRelu':
            slopes.append(op.get_attr('alpha'))
        elif op.type == 'Maximum':
            for product in (t.op for t in op.inputs if t.op.type == 'Mul'):
                constants = [tf.get_static_value(t) for t in product.inputs]
                slopes += [float(c) for c in constants if c is not None and np.size(c) == 1]
    return slopes


def _new_variables(build):
    before = set(tf.global_variables())
    result = build()
    return result, [v.name for v in tf.global_variables() if v not in before]


def _variables_outside(scope):
    return [v.name for v in tf.global_variables() if not v.name.startswith(scope + '/')]


def _check_all_variables_used(target, scope, what):
    """Every trainable variable of the network gets a gradient from `target`: no layer's output is left unread."""
    variables = tf.trainable_variables(scope)
    unused = [v.name for v, g in zip(variables, tf.gradients(target, variables)) if g is None]
    _check(not unused, f'{_names(unused)} get no gradient from {what}: that layer\'s output is never used; feed '
                       'each layer the previous layer\'s output, and the last one to the output layer')


def _names(names, shown=3):
    """A list of names for a one-line message: the first few, then how many more."""
    more = f' and {len(names) - shown} more' if len(names) > shown else ''
    return ', '.join(names[:shown]) + more


def _layer_name(op):
    return op.name.rsplit('/', 1)[0]  # discriminator/conv2d_1/Conv2D -> discriminator/conv2d_1


def _check_tensor(tensor, what, shape, dtype=tf.float32):
    _check(isinstance(tensor, tf.Tensor), f'{what} must be a tf.Tensor, found {type(tensor).__name__}')
    _check(tensor.dtype == dtype, f'{what} must be {dtype.name} (tf.placeholder(tf.{dtype.name}, ...)), found '
                                  f'{tensor.dtype.name}')
    _check(tensor.shape.rank == len(shape),
           f'{what} must have rank {len(shape)} (shape {list(shape)}), found rank {tensor.shape.rank}')
    _check(_shape(tensor) == list(shape), f'{what} must have shape {list(shape)}, found {_shape(tensor)}')


def _check_placeholder(tensor, what):
    _check(tensor.op.type in ('Placeholder', 'PlaceholderWithDefault'),
           f'{what} must be a tf.placeholder, found a {tensor.op.type} op')


def _random_batch(rng, size, shape):
    return rng.uniform(-1, 1, (size, *shape)).astype(np.float32)


def _differs_between_runs(sess, output, feed):
    """Whether the same input gives a different output a second time (dropout or other randomness)."""
    return not np.array_equal(sess.run(output, feed), sess.run(output, feed))


# --- model_inputs ----------------------------------------------------------------------------------

@_graded
def test_model_inputs(model_inputs, suggest):
    width, height, channels, z_dim = 28, 28, 3, 100
    result = _call(lambda: model_inputs(width, height, channels, z_dim), 'model_inputs(28, 28, 3, 100)')
    _check(isinstance(result, (tuple, list)) and len(result) == 3,
           'model_inputs must return 3 tensors: (real images, z, learning rate)')
    real, z, learning_rate = result
    _check_tensor(real, 'the real-image input (1st returned)', [None, width, height, channels])
    _check_placeholder(real, 'the real-image input (1st returned)')
    _check_tensor(z, 'the z input (2nd returned)', [None, z_dim])
    _check_placeholder(z, 'the z input (2nd returned)')
    what = 'the learning-rate input (3rd returned)'
    _check(isinstance(learning_rate, tf.Tensor), f'{what} must be a tf.Tensor, found {type(learning_rate).__name__}')
    _check_placeholder(learning_rate, what)
    # No shape (rank unknown) works when a number is fed, as in the course's own solution.
    _check(learning_rate.shape.rank in (None, 0),
           f'{what} must be a scalar: tf.placeholder(tf.float32, name=...) or shape (), found shape '
           f'{_shape(learning_rate)}')
    _check(learning_rate.dtype.is_floating,
           f'{what} must be tf.float32 (an integer placeholder turns 0.0002 into 0), found '
           f'{learning_rate.dtype.name}')


# --- discriminator ---------------------------------------------------------------------------------

@_graded
def test_discriminator(discriminator, suggest):
    channels = 3
    images = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    _check_signature(discriminator, 'discriminator', [images], 'reuse')
    result = _call(lambda: discriminator(images), 'discriminator(images)', DISCRIMINATOR_SCOPE)
    _check(isinstance(result, (tuple, list)) and len(result) == 2,
           'discriminator must return 2 tensors: (output, logits)')
    out, logits = result
    _check_tensor(logits, "the discriminator's logits (2nd returned)", [None, 1])
    _check_tensor(out, "the discriminator's output (1st returned)", [None, 1])

    outside = _variables_outside('discriminator')
    _check(tf.trainable_variables() and not outside,
           f"discriminator's variables must be created in tf.variable_scope('discriminator'); found "
           f'{_names(outside)}')
    _run_discriminator(images, out, logits, suggest)
    _check_all_variables_used(logits, 'discriminator', "the discriminator's logits")
    convs = _ops_in('discriminator', {'Conv2D'})
    _check(convs, 'discriminator must use convolution layers (tf.layers.conv2d)')
    _check(all(op.get_attr('padding') == b'SAME' for op in convs),
           "discriminator's convolutions must use padding='same'")
    _check(any(max(op.get_attr('strides')) > 1 for op in convs),
           'discriminator must downsample with strided convolutions (strides=2)')
    on_path = _ancestors([logits])  # (the gradient ops added above are not)
    first_layers = [op for op in _ops_in('discriminator', LAYER_OPS)
                    if images.op in _layer_ops_before(_data_input(op))]
    _check(not any(_has_batch_norm(_layer_ops_after(op) & on_path) for op in first_layers),
           'discriminator must not apply batch normalization to its first layer')
    _check_hidden_activations(logits, suggest)

    _, created = _call(lambda: _new_variables(lambda: discriminator(images, reuse=True)),
                       'discriminator(images, reuse=True)', DISCRIMINATOR_SCOPE)
    _check(not created, f'discriminator(images, reuse=True) created new variables {created}: {DISCRIMINATOR_SCOPE}')


def _check_hidden_activations(logits, suggest):
    """Each hidden layer on the way to the logits needs a nonlinearity; leaky ReLU near 0.2 is advised."""
    slopes, plain = [], []
    for layer, ops in _hidden_layers(logits, 'discriminator').items():
        activations = _activations(layer, ops)
        _check(activations, f'discriminator layer {_layer_name(layer)} has no activation: apply a leaky ReLU to '
                            'its output, tf.nn.leaky_relu(x, alpha)')
        slopes += _leaky_slopes(activations)
        plain += [op for op in activations if op.type in PLAIN_RELU_OPS]
    if plain:
        suggest('the discriminator uses plain ReLU; a leaky ReLU (tf.nn.leaky_relu(x, 0.2)) keeps a gradient for '
                'negative inputs, which helps the generator learn from it')
    odd = sorted({round(s, 3) for s in slopes if not LEAKY_SLOPES[0] <= s <= LEAKY_SLOPES[1]})
    if odd:
        suggest(f'leaky ReLU slope {", ".join(map(str, odd))}: the DCGAN paper used 0.2; slopes far from it '
                'make the discriminator close to linear or to a plain ReLU')


def _run_discriminator(images, out, logits, suggest):
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for size in BATCH_SIZES:
            feed = {images: _random_batch(rng, size, images.shape[1:])}
            what = f'discriminator on a batch of {size} images'
            out_value, logit_value = _run(sess, [out, logits], feed, what,
                                          ': flatten the last layer with tf.layers.flatten(x)')
            _check(logit_value.shape == (size, 1),
                   f'{what} gave logits of shape {logit_value.shape}, expected ({size}, 1): one logit per image; '
                   'flatten the last convolution with tf.layers.flatten(x) (a tf.reshape must use its actual size)')
            _check(np.allclose(out_value, 1 / (1 + np.exp(-logit_value.astype(np.float64))), atol=1e-5),
                   "the discriminator's output (1st returned) must be tf.sigmoid(logits)")
        random = _differs_between_runs(sess, logits, feed)
    if random and _ops_in('discriminator', BATCH_NORM_OPS):
        suggest('the discriminator uses dropout on top of batch normalization; together they rarely help (the '
                "dropout changes the statistics batch norm sees), and batch norm alone regularizes enough")


# --- generator -------------------------------------------------------------------------------------

@_graded
def test_generator(generator, suggest):
    z_dim, channels = 100, 5
    z = tf.placeholder(tf.float32, [None, z_dim])
    _check_signature(generator, 'generator', [z, channels], 'is_train')
    out = _call(lambda: generator(z, channels, is_train=True), 'generator(z, 5, is_train=True)', GENERATOR_SCOPE)
    _check_tensor(out, "the generator's output", [None, *IMAGE_SHAPE, channels])
    _check(_unwrap(out).op.type == 'Tanh', f"the generator's output must come from tf.tanh, found a "
                                           f'{_unwrap(out).op.type} op')
    outside = _variables_outside('generator')
    _check(tf.trainable_variables() and not outside,
           f"generator's variables must be created in tf.variable_scope('generator'); found {_names(outside)}")
    _check_all_variables_used(out, 'generator', "the generator's output")
    _check(not _has_batch_norm(_layer_ops_before(_unwrap(out))),
           'generator must not apply batch normalization to its last layer')
    unnormalized = [_layer_name(op) for op, ops in _hidden_layers(_unwrap(out), 'generator').items()
                    if not _has_batch_norm(ops)]
    if unnormalized:
        suggest(f'generator layers {_names(unnormalized)} have no batch normalization; the DCGAN paper normalizes '
                'every layer but the last, which keeps the generator from collapsing early')

    sample, created = _call(lambda: _new_variables(lambda: generator(z, channels, is_train=False)),
                            'generator(z, 5, is_train=False)', GENERATOR_SCOPE)
    _check(not created, f'generator(z, 5, is_train=False) created new variables {created}: {GENERATOR_SCOPE}')
    _check_tensor(sample, "the generator's output with is_train=False", [None, *IMAGE_SHAPE, channels])
    _run_generator(z, out, sample, suggest)


def _run_generator(z, out, sample, suggest):
    """One image per noise vector at every batch size; when sampling, each image depends on its own z only."""
    rng = np.random.default_rng(0)
    z_dim = z.shape[1]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for size in BATCH_SIZES:
            for mode, images in (('True', out), ('False', sample)):
                what = f'generator(z, ..., is_train={mode}) for a batch of {size}'
                value = _run(sess, images, {z: _random_batch(rng, size, [z_dim])}, what,
                             ': the tf.reshape after the dense layer must use the size the dense layer makes')
                _check(value.shape[0] == size, f'{what} made {value.shape[0]} images: the tf.reshape after the '
                                               'dense layer must use the size the dense layer makes')
        a, b, c = _random_batch(rng, 3, [z_dim])[:, None]
        if _differs_between_runs(sess, sample, {z: np.concatenate([a, b])}):
            suggest('the generator gives a different image for the same z each time it samples (dropout left '
                    'on?); pass training=is_train to tf.layers.dropout so sampling is repeatable')
    # Two fresh sessions replay the same random numbers (the graph is seeded), so dropout cannot hide
    # or fake a dependence on the rest of the batch.
    first, second = (_first_image(sample, {z: np.concatenate([a, other])}) for other in (b, c))
    _check(np.allclose(first, second, atol=1e-5),
           'generator(z, ..., is_train=False) uses batch statistics: pass training=is_train to '
           'tf.layers.batch_normalization so sampling uses the moving averages')


def _first_image(images, feed):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(images, feed)[0]


# --- model_loss ------------------------------------------------------------------------------------

class _CallRecorder:
    """Stands in for discriminator/generator inside model_loss, recording how it is called."""

    def __init__(self, function, replacement=None):
        self.function, self.replacement = function, replacement
        self.calls = []  # [bound arguments, result, new variables], the arguments kept even when the call fails

    def __call__(self, *args, **kwargs):
        arguments = inspect.signature(self.function).bind(*args, **kwargs)
        arguments.apply_defaults()
        self.calls.append([arguments.arguments, None, []])
        self.calls[-1][1:] = _new_variables(lambda: (self.replacement or self.function)(*args, **kwargs))
        return self.calls[-1][1]


def _first_argument(arguments):
    return next(iter(arguments.values()))


def _reads(tensor, source):
    return isinstance(tensor, tf.Tensor) and source.op in _ancestors([tensor])


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
        result = _call(lambda: model_loss(input_real, input_z, channels), 'model_loss(input_real, input_z, 4)',
                       "call discriminator(input_real, reuse=False) first, then discriminator(fake, reuse=True)")
    except AssertionError:
        _check_generator_call(g.calls)  # the likelier cause, when it is one
        raise
    finally:
        namespace['discriminator'], namespace['generator'] = saved
    _check(isinstance(result, (tuple, list)) and len(result) == 2, 'model_loss must return (d_loss, g_loss)')
    _check(len(g.calls) == 1, f'model_loss must call generator once, found {len(g.calls)} calls')
    _check_generator_call(g.calls)
    _check_discriminator_calls(d.calls, input_real, fake=g.calls[0][1])
    return result


def _check_generator_call(g_calls):
    _check(all(arguments.get('is_train', True) is True for arguments, _, _ in g_calls),
           'model_loss must call generator(input_z, out_channel_dim, is_train=True)')


def _check_discriminator_calls(d_calls, input_real, fake):
    """discriminator on the real images creating its variables, and on the generator's output sharing them."""
    _check(len(d_calls) == 2,
           f'model_loss must call discriminator twice (real, then fake), found {len(d_calls)} calls')
    fake_calls = [c for c in d_calls if _reads(_first_argument(c[0]), fake)]
    real_calls = [c for c in d_calls if _reads(_first_argument(c[0]), input_real) and c not in fake_calls]
    _check(len(fake_calls) == 1, "model_loss must call discriminator(generator's output, reuse=True)")
    _check(len(real_calls) == 1 and real_calls[0][0].get('reuse') is not True,
           'model_loss must call discriminator(input_real, reuse=False)')
    _check(not d_calls[1][2], f'the second discriminator call created new variables {d_calls[1][2]}: '
                              "call discriminator(generator's output, reuse=True)")


@_graded
def test_model_loss(model_loss, suggest):
    channels, z_dim = 4, 100
    input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    input_z = tf.placeholder(tf.float32, [None, z_dim])
    d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels)
    _check_tensor(d_loss, 'd_loss', [])
    _check_tensor(g_loss, 'g_loss', [])
    outside = [v for v in _variables_outside('discriminator') if not v.startswith('generator/')]
    _check(not outside, f"model_loss created variables outside the two networks' scopes: {outside}")
    _check_all_variables_used(d_loss, 'discriminator', 'd_loss')
    _check_all_variables_used(g_loss, 'generator', 'g_loss')
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = _run(sess, [d_loss, g_loss], {input_real: _random_batch(rng, 8, input_real.shape[1:]),
                                               input_z: _random_batch(rng, 8, [z_dim])}, 'model_loss on 8 images')
    _check(np.isfinite(values).all(), f'd_loss and g_loss must be finite numbers, found {values}')
    _check_labels(model_loss, channels, z_dim, suggest)


# Discriminator logits (real, fake) at which the losses are measured.
LOGIT_GRID = [(r, f) for r in (-3.0, -1.0, 0.0, 1.0, 3.0) for f in (-3.0, 0.0, 3.0)]
LABEL_PROBE_BATCH = 4000  # large, so random (noisy) labels average out


def _softplus(x):
    return np.log1p(np.exp(x))


def _fit_cross_entropy(scores, losses):
    """Fit loss = w_r * CE(r, z_r) + w_f * CE(f, z_f) + c over (r, f) scores, with CE(x, z) = softplus(x) - x z.

    Returns ((w_r, z_r), (w_f, z_f), worst residual); a weight near 0 means that term is absent.
    """
    r, f = np.array(scores).T
    basis = np.stack([_softplus(r), -r, _softplus(f), -f, np.ones_like(r)], axis=1)
    coefficients = np.linalg.lstsq(basis, losses, rcond=None)[0]
    w_r, v_r, w_f, v_f, _ = coefficients
    residual = np.abs(basis @ coefficients - losses).max()
    return (w_r, _label(w_r, v_r)), (w_f, _label(w_f, v_f)), residual


def _label(weight, weighted_label):
    return weighted_label / weight if abs(weight) > 1e-3 else np.nan


def _label_losses(model_loss, channels, z_dim):
    """d_loss and g_loss of model_loss at each LOGIT_GRID point, measured with scripted networks that
    return those logits; and whether a repeated measurement differs (random labels)."""
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
        input_z = tf.placeholder(tf.float32, [None, z_dim])
        real_score, fake_score = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])

        def scripted_discriminator(images, *args, **kwargs):
            score = real_score if input_real.op in _ancestors([images]) else fake_score
            logits = tf.zeros_like(images[:, :1, 0, 0]) + score  # shape (batch, 1)
            return tf.sigmoid(logits), logits

        def scripted_generator(z, out_channel_dim, *args, **kwargs):
            return tf.zeros_like(z[:, :1, None, None]) + tf.zeros([*IMAGE_SHAPE, out_channel_dim])

        d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels,
                                          scripted_discriminator, scripted_generator)
        feed = {input_real: np.zeros((LABEL_PROBE_BATCH, *IMAGE_SHAPE, channels), np.float32),
                input_z: np.zeros((LABEL_PROBE_BATCH, z_dim), np.float32)}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            losses = np.array([_run(sess, [d_loss, g_loss], {**feed, real_score: r, fake_score: f},
                                    'model_loss on fixed discriminator scores') for r, f in LOGIT_GRID])
            random = _differs_between_runs(sess, d_loss, {**feed, real_score: 3.0, fake_score: -3.0})
    return losses[:, 0].astype(np.float64), losses[:, 1].astype(np.float64), random


def _check_labels(model_loss, channels, z_dim, suggest):
    """Find the labels behind d_loss and g_loss from their values at fixed discriminator scores."""
    d_values, g_values, random = _label_losses(model_loss, channels, z_dim)
    tolerance = 0.02 * (1 + np.abs(d_values).max())
    (w_real, real_label), (w_fake, fake_label), d_residual = _fit_cross_entropy(LOGIT_GRID, d_values)
    g_fit = _fit_cross_entropy(LOGIT_GRID, g_values)
    if d_residual > tolerance or g_fit[2] > tolerance:
        _check_loss_directions(d_values, g_values)
        suggest('the losses are not the sigmoid cross-entropy the course uses '
                '(tf.nn.sigmoid_cross_entropy_with_logits); it is the loss the DCGAN architecture was tuned for')
        return
    _check(w_real > 0.05, "d_loss must include the real images' loss: the sigmoid cross-entropy of "
                          'discriminator(input_real) logits against labels of 1 (or 0.9)')
    _check(w_fake > 0.05, "d_loss must include the fakes' loss: the sigmoid cross-entropy of the discriminator's "
                          'logits for the generated images against labels of 0')
    _check(real_label >= 0.5, f'the real labels in d_loss are {real_label:.2f}: they must be near 1 (0.9 with '
                              'one-sided label smoothing: labels * (1 - smooth) needs smooth = 0.1, not 0.9)')
    _check(real_label <= 1.02, f'the real labels in d_loss are {real_label:.2f}: above 1 the loss has no lower '
                               'bound (it keeps falling as the logits grow); use 1, or 0.9 for smoothing')
    _check(fake_label >= -0.02, f'the fake labels in d_loss are {fake_label:.2f}: below 0 the loss has no lower '
                                'bound; use 0')
    _check(fake_label < min(0.5, real_label - 0.1),
           f'the fake labels in d_loss are {fake_label:.2f}: they must be near 0, below the real labels')
    _check_generator_labels(g_fit[1], suggest)
    if real_label > 0.98:
        suggest('one-sided label smoothing: real labels of 0.9 instead of 1 in d_loss keep the discriminator from '
                'growing overconfident and starving the generator of gradient (Salimans et al. 2016)')
    if fake_label > 0.02:
        suggest(f'the fake labels in d_loss are {fake_label:.2f}: the course smooths only the real labels '
                '(one-sided); raising the fake labels rewards the discriminator for scoring fakes as partly real')
    if random:
        suggest('the labels in d_loss are random (they change every batch): noisy labels add variance without '
                'the benefit of one-sided smoothing, real labels of 0.9 and fake labels of 0')


def _check_generator_labels(fake_term, suggest):
    """g_loss as a function of the fakes' logits: it must fall as the discriminator takes them for real."""
    weight, label = fake_term
    _check(abs(weight) > 0.05, "g_loss must be the sigmoid cross-entropy of the discriminator's logits for the "
                               'generated images against labels of 1')
    falls = label > 0.5 if weight > 0 else label < 0.5  # CE(fake, label), or the minimax form -CE(fake, label)
    _check(falls, 'g_loss must fall when the discriminator takes the fakes for real: use labels of 1 with the '
                  "discriminator's fake logits")
    if weight < 0:
        suggest("g_loss is the minimax form, minus the discriminator's loss on the fakes: it saturates (almost no "
                'gradient) while the discriminator rejects the fakes, as it does early on; cross-entropy with labels '
                'of 1 gives the generator a strong gradient exactly then')
        return
    _check(label <= 1.02, f'the labels in g_loss are {label:.2f}: above 1 the loss has no lower bound; use 1')
    if label < 0.98:
        suggest(f'the labels in g_loss are {label:.2f}: the generator usually aims at 1 (smoothing is for the '
                "discriminator's real labels); a lower target weakens its gradient")


def _check_loss_directions(d_values, g_values):
    """For losses of another form: d_loss is lower when the discriminator is right, g_loss when it is fooled."""
    at = {score: k for k, score in enumerate(LOGIT_GRID)}
    _check(d_values[at[(3.0, -3.0)]] < d_values[at[(-3.0, 3.0)]],
           'd_loss must be lower when the discriminator scores real images high and fakes low')
    _check(g_values[at[(0.0, 3.0)]] < g_values[at[(0.0, -3.0)]],
           'g_loss must fall when the discriminator takes the fakes for real')


# --- model_opt -------------------------------------------------------------------------------------

def _synthetic_losses():
    """Small networks under the two scopes, batch norm in each, and one variable outside both. The layer
    names suit the usual ways of picking variables: by scope, by 'discriminator' in the name, or by d_/g_."""
    z = tf.placeholder(tf.float32, [None, 4])
    stray = tf.get_variable('stray_weight', [], initializer=tf.ones_initializer())
    with tf.variable_scope('generator'):
        hidden = tf.layers.batch_normalization(tf.layers.dense(z, 4, name='g_dense'), training=True, name='g_bn')
    with tf.variable_scope('discriminator'):
        hidden = tf.layers.batch_normalization(tf.layers.dense(hidden * stray, 4, name='d_dense'), training=True,
                                               name='d_bn')
        logits = tf.layers.dense(hidden, 1, name='d_out')
    d_loss = tf.reduce_mean(tf.square(logits - 1.0))
    g_loss = tf.reduce_mean(tf.square(logits + 1.0))
    return d_loss, g_loss, {z: np.random.default_rng(0).normal(size=(8, 4))}


def _notebook_losses(model_opt):
    """The learner's own networks, through their model_inputs and model_loss, when those build (their own
    checks report them when they do not)."""
    namespace = model_opt.__globals__
    try:
        input_real, input_z, _ = namespace['model_inputs'](*IMAGE_SHAPE, 3, 100)
        d_loss, g_loss = namespace['model_loss'](input_real, input_z, 3)
    except Exception:
        return None
    rng = np.random.default_rng(0)
    return d_loss, g_loss, {input_real: _random_batch(rng, 8, input_real.shape[1:]),
                            input_z: _random_batch(rng, 8, input_z.shape[1:])}


@_graded
def test_model_opt(model_opt, suggest):
    _check_model_opt(model_opt, *_synthetic_losses(), suggest)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        losses = _notebook_losses(model_opt)
        if losses is not None:
            _check_model_opt(model_opt, *losses, suggest)


def _check_model_opt(model_opt, d_loss, g_loss, feed, suggest, beta1=0.45):
    learning_rate = tf.placeholder(tf.float32, [])
    result = _call(lambda: model_opt(d_loss, g_loss, learning_rate, beta1),
                   'model_opt(d_loss, g_loss, learning_rate, beta1)')
    _check(isinstance(result, (tuple, list)) and len(result) == 2,
           'model_opt must return (d_train_opt, g_train_opt)')
    feed = {**feed, learning_rate: 0.01}
    moving = {v.name for v in tf.global_variables() if 'moving_' in v.name and v.name.startswith('generator/')}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _suggest_adam(sess, beta1, suggest)
        for name, scope, train_op in zip(('d_train_opt', 'g_train_opt'), ('discriminator', 'generator'), result):
            changed = _changed_by(sess, train_op, feed)
            own = {v.name for v in tf.trainable_variables(scope)}
            wrong = sorted((changed & {v.name for v in tf.trainable_variables()}) - own)
            _check(not wrong, f"{name} changed {wrong}: pass var_list=[the trainable variables whose names "
                              f"start with '{scope}/'] to minimize")
            _check(changed & own, f'{name} changed none of the {scope} variables')
        sess.run(tf.global_variables_initializer())
        # train runs both ops each batch; the generator's moving averages are what sampling uses
        missing = moving - _changed_by(sess, list(result), feed)
        _check(not missing, f'running d_train_opt and g_train_opt did not update the batch-norm moving averages '
                            f'{sorted(missing)}: build the optimizers inside with tf.control_dependencies('
                            'tf.get_collection(tf.GraphKeys.UPDATE_OPS))')
        sess.run(tf.global_variables_initializer())
        if not _changed_by(sess, list(result), {**feed, learning_rate: 0.0}) <= moving | _optimizer_state():
            suggest('model_opt ignores its learning_rate argument: pass it to the optimizer, so the value fed '
                    'to the placeholder is the one used')


def _optimizer_state():
    """Names of variables an optimizer keeps for itself (Adam's moments and powers, ...), and D's statistics."""
    return {v.name for v in tf.global_variables() if v not in tf.trainable_variables()}


def _suggest_adam(sess, beta1, suggest):
    beta1_powers = [v for v in tf.global_variables() if 'beta1_power' in v.name]
    if len(beta1_powers) < 2:
        suggest('the DCGAN paper trains both networks with tf.train.AdamOptimizer(learning_rate, beta1=0.5); '
                'other optimizers often make GAN training less stable')
    elif not np.allclose(sess.run(beta1_powers), beta1):
        suggest("model_opt ignores its beta1 argument: pass it to AdamOptimizer (Adam's default 0.9 makes GAN "
                'training oscillate; the DCGAN paper used 0.5)')


def _changed_by(sess, train_op, feed):
    variables = tf.global_variables()
    before = sess.run(variables)
    sess.run(train_op, feed)
    after = sess.run(variables)
    return {v.name for v, x, y in zip(variables, before, after) if not np.array_equal(x, y)}


def check(name, function):
    """The suggestions of the graded check for `name` (model_inputs, ...), or its AssertionError."""
    return run_check(globals()[f'test_{name}'].check, function)
