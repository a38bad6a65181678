"""Checks for the functions you write in dlnd_face_generation.ipynb and gan_variants.ipynb.

Each check builds its graph in a fresh tf.Graph and runs it, then prints "Tests Passed", followed
by any suggestions, or raises an AssertionError whose one-line message says what is wrong and how
to fix it. The checks judge what the code builds and does (shapes, variables, gradients, values),
never how it is written. They fail what the course's rubric requires or what breaks training;
what the course's reviewers only recommended (label smoothing, leaky ReLU, batch norm in the
generator, Adam with beta1 0.5) comes as a suggestion.
"""
import numpy as np

import helper
from dlnd.checks.graph_checks import (
    BATCH_NORM_OPS, LAYER_OPS, LOGIT_GRID, PLAIN_RELU_OPS, CallRecorder, activations, ancestors, call, check,
    check_all_variables_used, check_placeholder, check_signature, check_tensor, data_input, differs_between_runs,
    error_line, fit_cross_entropy, fresh_run, graded, has_batch_norm, hidden_layers, layer_name, layer_ops_after,
    layer_ops_before, leaky_slopes, names, new_variables, one_hot_batch, ops_in, random_batch, reads, run, run_check,
    shape, unwrap, variables_outside)

tf = helper.import_tensorflow()  # tensorflow.compat.v1

IMAGE_SHAPE = (28, 28)
CLASSES = 10  # MNIST's digits, one-hot, for the conditional networks
BATCH_SIZES = (2, 3, 64)  # the networks must give one result per image at each of these
LEAKY_SLOPES = (0.05, 0.4)  # slopes outside this get a suggestion (the DCGAN paper used 0.2)
ALPHA = 0.15  # the slope the checks pass to functions that take `alpha`
LABEL_PROBE_BATCH = 4000  # large, so random (noisy) labels average out
DISCRIMINATOR_SCOPE = "pass reuse to tf.variable_scope('discriminator', reuse=reuse)"
GENERATOR_SCOPE = "use tf.variable_scope('generator', reuse=not is_train)"


def check_function(name, function):
    """The suggestions of the graded check for `name` (model_inputs, ...), or its AssertionError."""
    return run_check(globals()[f'test_{name}'].check, function)


# === dlnd_face_generation.ipynb: the DCGAN =========================================================

@graded
def test_model_inputs(model_inputs, suggest):
    width, height, channels, z_dim = 28, 28, 3, 100
    result = call(lambda: model_inputs(width, height, channels, z_dim), 'model_inputs(28, 28, 3, 100)')
    check(isinstance(result, (tuple, list)) and len(result) == 3,
          'model_inputs must return 3 tensors: (real images, z, learning rate)')
    real, z, learning_rate = result
    check_tensor(real, 'the real-image input (1st returned)', [None, width, height, channels])
    check_placeholder(real, 'the real-image input (1st returned)')
    check_tensor(z, 'the z input (2nd returned)', [None, z_dim])
    check_placeholder(z, 'the z input (2nd returned)')
    what = 'the learning-rate input (3rd returned)'
    check(isinstance(learning_rate, tf.Tensor), f'{what} must be a tf.Tensor, found {type(learning_rate).__name__}')
    check_placeholder(learning_rate, what)
    # No shape (rank unknown) works when a number is fed, as in the course's own solution.
    check(learning_rate.shape.rank in (None, 0),
          f'{what} must be a scalar: tf.placeholder(tf.float32, name=...) or shape (), found shape '
          f'{shape(learning_rate)}')
    check(learning_rate.dtype.is_floating,
          f'{what} must be tf.float32 (an integer placeholder turns 0.0002 into 0), found {learning_rate.dtype.name}')


@graded
def test_discriminator(discriminator, suggest):
    _judge_discriminator(discriminator, suggest)


@graded
def test_generator(generator, suggest):
    _judge_generator(generator, suggest)


@graded
def test_model_loss(model_loss, suggest):
    channels, z_dim = 4, 100
    input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    input_z = tf.placeholder(tf.float32, [None, z_dim])
    d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels)
    _check_losses_train_their_networks(d_loss, g_loss, {input_real: [*IMAGE_SHAPE, channels], input_z: [z_dim]})
    _check_labels(*_label_losses(model_loss, channels, z_dim), suggest)


@graded
def test_model_opt(model_opt, suggest):
    _check_model_opt(model_opt, *_synthetic_losses(), suggest)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        losses = _notebook_losses(model_opt)
        if losses is not None:
            try:
                _check_model_opt(model_opt, *losses, suggest)
            except tf.errors.OpError as e:
                raise AssertionError(_networks_failed(e, model_opt.__globals__)) from None


# === gan_variants.ipynb: the GAN family ============================================================

@graded
def test_fc_discriminator(fc_discriminator, suggest):
    _judge_discriminator(fc_discriminator, suggest, name='fc_discriminator', convolutional=False, alpha=ALPHA)


@graded
def test_fc_generator(fc_generator, suggest):
    _judge_generator(fc_generator, suggest, name='fc_generator', leaky_alpha=ALPHA, advise_batch_norm=False)


@graded
def test_gan_loss(gan_loss, suggest):
    d_values, g_values, random = _score_losses(gan_loss, 'gan_loss(d_logits_real, d_logits_fake)')
    _check_labels(d_values, g_values, random, suggest)


@graded
def test_lsgan_loss(lsgan_loss, suggest):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 2, (64, 1)), rng.normal(0, 2, (64, 1))
    d_value, g_value = _loss_values(lsgan_loss, 'lsgan_loss(d_scores_real, d_scores_fake)', real, fake)
    _check_least_squares(d_value, g_value, real, fake)


@graded
def test_conditional_discriminator(conditional_discriminator, suggest):
    _judge_discriminator(conditional_discriminator, suggest, name='conditional_discriminator', conditional=True,
                         alpha=ALPHA)


@graded
def test_conditional_generator(conditional_generator, suggest):
    _judge_generator(conditional_generator, suggest, name='conditional_generator', conditional=True)


@graded
def test_conditional_model_loss(conditional_model_loss, suggest):
    channels, z_dim = 1, 100
    input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    input_z = tf.placeholder(tf.float32, [None, z_dim])
    input_labels = tf.placeholder(tf.float32, [None, CLASSES])
    loss = CallRecorder(_scripted_loss)
    namespace = conditional_model_loss.__globals__
    check('conditional_discriminator' in namespace and 'conditional_generator' in namespace,
          'conditional_model_loss must call the conditional_discriminator and conditional_generator defined above')
    d = CallRecorder(namespace['conditional_discriminator'])
    g = CallRecorder(namespace['conditional_generator'])
    with _standing_in(namespace, conditional_discriminator=d, conditional_generator=g):
        try:
            result = call(lambda: conditional_model_loss(input_real, input_z, input_labels, channels, loss),
                          'conditional_model_loss(input_real, input_z, input_labels, 1, loss)', DISCRIMINATOR_SCOPE)
        except AssertionError:
            _check_generator_call(g.calls, 'conditional_model_loss must call conditional_generator(input_z, '
                                           'input_labels, out_channel_dim, is_train=True)')
            raise
    check(len(g.calls) == 1, f'conditional_model_loss must call conditional_generator once, found {len(g.calls)}')
    _check_generator_call(g.calls, 'conditional_model_loss must call conditional_generator(input_z, input_labels, '
                                   'out_channel_dim, is_train=True)')
    g_arguments, fake, _ = g.calls[0]
    check(_labels_of(g_arguments) is input_labels,
          'conditional_model_loss must give conditional_generator the labels input_labels')
    real_call, fake_call = _discriminator_calls(d.calls, input_real, fake, 'conditional_discriminator')
    check(_labels_of(real_call) is input_labels,
          'conditional_model_loss must call conditional_discriminator(input_real, input_labels)')
    check(_labels_of(fake_call) is input_labels,
          "conditional_model_loss must score the fakes with the labels they were made for: "
          "conditional_discriminator(generator's output, input_labels, reuse=True)")
    check(len(loss.calls) == 1, f'conditional_model_loss must call loss once, found {len(loss.calls)} calls')
    scores = list(loss.calls[0][0].values())[:2]
    logits = [d.calls[k][1][1] for k in range(2)]
    real_index = next(k for k in range(2) if d.calls[k][0] is real_call)
    check(scores[0] is logits[real_index] and scores[1] is logits[1 - real_index],
          "conditional_model_loss must return loss(the discriminator's logits for the real images, its logits for "
          'the fakes): the second value each call returns, not the sigmoid output')
    check(isinstance(result, (tuple, list)) and len(result) == 2
          and all(a is b for a, b in zip(result, loss.calls[0][1])),
          'conditional_model_loss must return what loss returns: (d_loss, g_loss)')
    _check_losses_train_their_networks(*result, {input_real: [*IMAGE_SHAPE, channels], input_z: [z_dim],
                                                 input_labels: 'one-hot'})


@graded
def test_augment(augment, suggest):
    channels = 3
    images = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    augmented = call(lambda: augment(images), 'augment(images)')
    check_tensor(augmented, 'augment(images)', [None, *IMAGE_SHAPE, channels])
    rng = np.random.default_rng(0)
    one = random_batch(rng, 1, [*IMAGE_SHAPE, channels])
    same = np.repeat(one, 8, axis=0)  # eight copies of one image
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for size in BATCH_SIZES:
            value = run(sess, augmented, {images: random_batch(rng, size, [*IMAGE_SHAPE, channels])},
                        f'augment on a batch of {size}')
            check(value.shape == (size, *IMAGE_SHAPE, channels), f'augment on a batch of {size} gave {value.shape}: '
                                                                 'one augmented image per image')
        first, second = sess.run(augmented, {images: same}), sess.run(augmented, {images: same})
        weights = tf.constant(rng.normal(size=(8, *IMAGE_SHAPE, channels)), tf.float32)
        gradient = tf.gradients(tf.reduce_sum(augmented * weights), images)[0]
        check(gradient is not None, 'no gradient flows back through augment: the generator learns through it, so '
                                    'use differentiable TensorFlow ops only (no tf.round, tf.cast to integers, '
                                    'tf.stop_gradient or tf.py_function on the images)')
        reaching = np.mean(sess.run(gradient, {images: same}) != 0)
    check(not np.allclose(first, same, atol=1e-6), 'augment must change the images: colour, translation and cutout')
    check(not np.array_equal(first, second), 'augment must draw new random changes every time it runs')
    check(any(not np.allclose(first[0], image, atol=1e-6) for image in first[1:]),
          'augment gives every image of the batch the same change: draw the random numbers per image, with '
          'shape (batch, ...) from tf.shape(images)[0]')
    check(reaching > 0.25, f'only {reaching:.0%} of the pixels pass a gradient back through augment: use '
                           'differentiable TensorFlow ops only')


@graded
def test_augmented_model_loss(augmented_model_loss, suggest):
    """Every image the discriminator sees, real or fake, in d_loss and in g_loss, goes through augment,
    and the generator's gradient comes back through it."""
    channels, z_dim = 3, 100
    input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    input_z = tf.placeholder(tf.float32, [None, z_dim])
    namespace = augmented_model_loss.__globals__
    check(callable(namespace.get('augment')), 'augmented_model_loss must call the augment function defined above')

    def scripted_discriminator(images, reuse=False, **kwargs):  # a real variable, so reuse matters
        with tf.variable_scope('discriminator', reuse=reuse):
            logits = tf.reduce_mean(images, axis=[1, 2, 3])[:, None] * tf.get_variable('w', [], tf.float32)
            return tf.sigmoid(logits), logits

    def scripted_generator(z, out_channel_dim, is_train=True, **kwargs):
        with tf.variable_scope('generator', reuse=not is_train):
            return tf.tanh(tf.reshape(tf.layers.dense(z, 28 * 28 * out_channel_dim), (-1, *IMAGE_SHAPE,
                                                                                        out_channel_dim)))
    d, g = CallRecorder(scripted_discriminator), CallRecorder(scripted_generator)
    augment, loss = CallRecorder(namespace['augment']), CallRecorder(_scripted_loss)
    with _standing_in(namespace, discriminator=d, generator=g, augment=augment):
        result = call(lambda: augmented_model_loss(input_real, input_z, channels, loss),
                      'augmented_model_loss(input_real, input_z, 3, loss)')
    check(len(g.calls) == 1 and g.calls[0][0].get('is_train', True) is True,
          'augmented_model_loss must call generator(input_z, out_channel_dim, is_train=True) once')
    fake = g.calls[0][1]
    augmented = [output for _, output, _ in augment.calls]
    seen = [next(iter(arguments.values())) for arguments, _, _ in d.calls]
    check(any(reads(images, fake) for images in seen), 'augmented_model_loss must score the fakes: '
                                                       "discriminator(augment(generator's output), reuse=True)")
    check(all(any(reads(images, out) for out in augmented) for images in seen if reads(images, fake)),
          'augmented_model_loss must augment the fakes too: augmenting only the real images teaches the generator '
          'to draw the augmentations; use discriminator(augment(fake), reuse=True)')
    check(all(any(reads(images, out) for out in augmented) for images in seen),
          'augmented_model_loss must augment the real images: discriminator(augment(input_real))')
    check(len(loss.calls) == 1, f'augmented_model_loss must call loss once, found {len(loss.calls)} calls')
    check(isinstance(result, (tuple, list)) and len(result) == 2
          and all(a is b for a, b in zip(result, loss.calls[0][1])),
          'augmented_model_loss must return what loss returns: (d_loss, g_loss)')
    gradient = tf.gradients(result[1], tf.trainable_variables('generator'))
    check(all(grad is not None for grad in gradient), "g_loss sends no gradient to the generator: the fakes' path "
                                                      'through augment must be differentiable')


# --- discriminators --------------------------------------------------------------------------------

def _judge_discriminator(discriminator, suggest, name='discriminator', conditional=False, convolutional=True,
                         alpha=None, channels=3):
    """Every discriminator: scope and reuse, (sigmoid output, logits), one logit per image, no unused layer,
    an activation on every hidden layer; convolutional ones also the DCGAN rules; `alpha` (when the function
    takes one) must be the leaky ReLU's slope, which is then required."""
    images = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
    labels = tf.placeholder(tf.float32, [None, CLASSES]) if conditional else None
    inputs = [images, labels] if conditional else [images]
    options = {} if alpha is None else {'alpha': alpha}
    shown = f'{name}(images{", labels" if conditional else ""})'
    check_signature(discriminator, name, inputs, 'reuse')
    result = call(lambda: discriminator(*inputs, **options), shown, DISCRIMINATOR_SCOPE)
    check(isinstance(result, (tuple, list)) and len(result) == 2, f'{name} must return 2 tensors: (output, logits)')
    out, logits = result
    check_tensor(logits, f"the {name}'s logits (2nd returned)", [None, 1])
    check_tensor(out, f"the {name}'s output (1st returned)", [None, 1])
    outside = variables_outside('discriminator')
    check(tf.trainable_variables() and not outside,
          f"{name}'s variables must be created in tf.variable_scope('discriminator'); found {names(outside)}")

    def feed(rng, size):
        return {images: random_batch(rng, size, images.shape[1:]),
                **({labels: one_hot_batch(rng, size, CLASSES)} if conditional else {})}
    _run_discriminator(name, feed, out, logits, suggest)
    check_all_variables_used(logits, 'discriminator', f"the {name}'s logits")
    if convolutional:
        _check_convolutions(name, images, logits)
    else:
        check(not ops_in('discriminator', {'Conv2D'}), f'{name} must be fully connected: tf.layers.dense layers '
                                                       '(flatten the images first), no convolutions')
    _check_hidden_activations(name, 'discriminator', logits, suggest, alpha)
    _, created = call(lambda: new_variables(lambda: discriminator(*inputs, reuse=True, **options)),
                      shown.replace(')', ', reuse=True)'), DISCRIMINATOR_SCOPE)
    check(not created, f'{shown.replace(")", ", reuse=True)")} created new variables {names(created)}: '
                       f'{DISCRIMINATOR_SCOPE}')
    if conditional:
        _check_reads_labels(name, logits, feed, labels, 'logits',
                            'feed the labels into the network, e.g. as ten constant planes tf.concat-ed to the images')


def _run_discriminator(name, feed, out, logits, suggest):
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for size in BATCH_SIZES:
            batch = feed(rng, size)
            what = f'{name} on a batch of {size} images'
            out_value, logit_value = run(sess, [out, logits], batch, what,
                                         ': flatten the last layer with tf.layers.flatten(x)')
            check(logit_value.shape == (size, 1),
                  f'{what} gave logits of shape {logit_value.shape}, expected ({size}, 1): one logit per image; '
                  'flatten the last layer with tf.layers.flatten(x) (a tf.reshape must use its actual size)')
            check(np.allclose(out_value, 1 / (1 + np.exp(-logit_value.astype(np.float64))), atol=1e-5),
                  f"the {name}'s output (1st returned) must be tf.sigmoid(logits)")
        random = differs_between_runs(sess, logits, batch)
    if random and ops_in('discriminator', BATCH_NORM_OPS):
        suggest(f'the {name} uses dropout on top of batch normalization; together they rarely help (the dropout '
                'changes the statistics batch norm sees), and batch norm alone regularizes enough')


def _check_convolutions(name, images, logits):
    """The DCGAN rubric: strided 'same' convolutions, and no batch norm on the first layer."""
    convs = ops_in('discriminator', {'Conv2D'})
    check(convs, f'{name} must use convolution layers (tf.layers.conv2d)')
    check(all(op.get_attr('padding') == b'SAME' for op in convs), f"{name}'s convolutions must use padding='same'")
    check(any(max(op.get_attr('strides')) > 1 for op in convs),
          f'{name} must downsample with strided convolutions (strides=2)')
    on_path = ancestors([logits])  # (gradient ops, added by the checks, are not)
    first_layers = [op for op in ops_in('discriminator', LAYER_OPS) if images.op in layer_ops_before(data_input(op))]
    check(not any(has_batch_norm(layer_ops_after(op) & on_path) for op in first_layers),
          f'{name} must not apply batch normalization to its first layer')


def _check_hidden_activations(name, scope, output, suggest, alpha=None):
    """Each hidden layer on the way to `output` needs a nonlinearity. With `alpha`, at least one hidden layer,
    and leaky ReLUs of that slope, are required; otherwise leaky ReLU near 0.2 is only advised."""
    layers = hidden_layers(output, scope)
    if alpha is not None:
        check(layers, f'{name} needs at least one hidden layer: a dense layer and a leaky ReLU before the output layer')
    slopes, plain = [], []
    for layer, ops in layers.items():
        found = activations(layer, ops)
        check(found, f'{name} layer {layer_name(layer)} has no activation: apply a leaky ReLU to its output, '
                     'tf.nn.leaky_relu(x, alpha)')
        leaky = leaky_slopes(found)
        check(alpha is None or leaky, f'{name} layer {layer_name(layer)} uses {found[0].type}: use a leaky ReLU, '
                                      'tf.nn.leaky_relu(x, alpha)')
        slopes += leaky
        plain += [op for op in found if op.type in PLAIN_RELU_OPS]
    if alpha is not None:
        check(np.allclose(slopes, alpha), f'{name}(..., alpha={alpha}) gave leaky ReLU slopes '
                                          f'{sorted({round(s, 3) for s in slopes})}: use the alpha argument as the '
                                          'slope')
        return
    if plain:
        suggest(f'the {name} uses plain ReLU; a leaky ReLU (tf.nn.leaky_relu(x, 0.2)) keeps a gradient for '
                'negative inputs, which helps the generator learn from it')
    odd = sorted({round(s, 3) for s in slopes if not LEAKY_SLOPES[0] <= s <= LEAKY_SLOPES[1]})
    if odd:
        suggest(f'leaky ReLU slope {", ".join(map(str, odd))}: the DCGAN paper used 0.2; slopes far from it '
                'make the discriminator close to linear or to a plain ReLU')


def _check_reads_labels(name, output, feed, labels, what, fix):
    """Same other inputs, other labels: the output must change; same inputs twice: it must not (the graph is
    seeded, so dropout replays)."""
    rng = np.random.default_rng(1)
    batch = feed(rng, 8)
    others = {**batch, labels: np.roll(batch[labels], 1, axis=1)}  # every image gets another digit
    first, again, other = fresh_run(output, batch), fresh_run(output, batch), fresh_run(output, others)
    check(np.allclose(first, again), f'{name} gives different {what} for the same inputs in a fresh session')
    check(np.abs(first - other).max() > 1e-6, f'{name} ignores its labels: other labels give the same {what}; {fix}')


# --- generators ------------------------------------------------------------------------------------

def _judge_generator(generator, suggest, name='generator', conditional=False, leaky_alpha=None,
                     advise_batch_norm=True, channels=5):
    """Every generator: scope and reuse=not is_train, tanh output of (batch, 28, 28, C) at every batch size, no
    unused layer, no batch norm on the last layer, moving statistics when sampling. `leaky_alpha`: at least one
    hidden layer with leaky ReLUs of that slope is required."""
    z_dim = 100
    z = tf.placeholder(tf.float32, [None, z_dim])
    labels = tf.placeholder(tf.float32, [None, CLASSES]) if conditional else None
    inputs = [z, labels, channels] if conditional else [z, channels]
    options = {} if leaky_alpha is None else {'alpha': leaky_alpha}
    shown = f'{name}(z, {"labels, " if conditional else ""}{channels}, is_train='
    check_signature(generator, name, inputs, 'is_train')
    out = call(lambda: generator(*inputs, is_train=True, **options), shown + 'True)', GENERATOR_SCOPE)
    check_tensor(out, f"the {name}'s output", [None, *IMAGE_SHAPE, channels])
    check(unwrap(out).op.type == 'Tanh', f"the {name}'s output must come from tf.tanh, found a "
                                         f'{unwrap(out).op.type} op')
    outside = variables_outside('generator')
    check(tf.trainable_variables() and not outside,
          f"{name}'s variables must be created in tf.variable_scope('generator'); found {names(outside)}")
    check_all_variables_used(out, 'generator', f"the {name}'s output")
    check(not has_batch_norm(layer_ops_before(unwrap(out))), f'{name} must not apply batch normalization to its '
                                                              'last layer')
    if leaky_alpha is not None:
        _check_hidden_activations(name, 'generator', unwrap(out), suggest, leaky_alpha)
    unnormalized = [layer_name(op) for op, ops in hidden_layers(unwrap(out), 'generator').items()
                    if not has_batch_norm(ops)]
    if unnormalized and advise_batch_norm:
        suggest(f'{name} layers {names(unnormalized)} have no batch normalization; the DCGAN paper normalizes '
                'every layer but the last, which keeps the generator from collapsing early')

    sample, created = call(lambda: new_variables(lambda: generator(*inputs, is_train=False, **options)),
                           shown + 'False)', GENERATOR_SCOPE)
    check(not created, f'{shown}False) created new variables {names(created)}: {GENERATOR_SCOPE}')
    check_tensor(sample, f"the {name}'s output with is_train=False", [None, *IMAGE_SHAPE, channels])

    def feed(rng, size):
        return {z: random_batch(rng, size, [z_dim]), **({labels: one_hot_batch(rng, size, CLASSES)}
                                                         if conditional else {})}
    _run_generator(name, feed, out, sample, suggest)
    if conditional:
        _check_reads_labels(name, sample, feed, labels, 'images', 'feed the labels in with z, e.g. '
                                                                  'tf.concat([z, labels], axis=1)')


def _run_generator(name, feed, out, sample, suggest):
    """One image per noise vector at every batch size; when sampling, each image depends on its own z only."""
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for size in BATCH_SIZES:
            for mode, images in (('True', out), ('False', sample)):
                what = f'{name}(..., is_train={mode}) for a batch of {size}'
                value = run(sess, images, feed(rng, size), what,
                            ': the tf.reshape after the dense layer must use the size the dense layer makes')
                check(value.shape[0] == size, f'{what} made {value.shape[0]} images: the tf.reshape after the '
                                              'dense layer must use the size the dense layer makes')
        pair = feed(rng, 2)
        if differs_between_runs(sess, sample, pair):
            suggest(f'the {name} gives a different image for the same z each time it samples (dropout left on?); '
                    'pass training=is_train to tf.layers.dropout so sampling is repeatable')
    # The second image replaced: in two fresh sessions the random numbers replay (the graph is seeded), so
    # dropout cannot hide or fake a dependence on the rest of the batch.
    other = {key: np.concatenate([value[:1], feed(rng, 1)[key]]) for key, value in pair.items()}
    first, second = fresh_run(sample, pair)[0], fresh_run(sample, other)[0]
    check(np.allclose(first, second, atol=1e-5),
          f'{name}(..., is_train=False) uses batch statistics: pass training=is_train to '
          'tf.layers.batch_normalization so sampling uses the moving averages')


# --- model_loss and the loss functions -------------------------------------------------------------

class _standing_in:
    """Replace names in a learner's namespace for the duration of a call."""

    def __init__(self, namespace, **replacements):
        self.namespace, self.replacements = namespace, replacements

    def __enter__(self):
        self.saved = {name: self.namespace[name] for name in self.replacements if name in self.namespace}
        self.namespace.update(self.replacements)

    def __exit__(self, *exc):
        for name in self.replacements:
            self.namespace.pop(name)
        self.namespace.update(self.saved)


def _call_model_loss(model_loss, input_real, input_z, channels, discriminator=None, generator=None):
    """Call model_loss with its discriminator and generator recorded (and optionally replaced)."""
    namespace = model_loss.__globals__
    check('discriminator' in namespace and 'generator' in namespace,
          'model_loss must call the discriminator and generator functions defined above')
    d = CallRecorder(namespace['discriminator'], discriminator)
    g = CallRecorder(namespace['generator'], generator)
    with _standing_in(namespace, discriminator=d, generator=g):
        try:
            result = call(lambda: model_loss(input_real, input_z, channels), 'model_loss(input_real, input_z, 4)',
                          'call discriminator(input_real, reuse=False) first, then discriminator(fake, reuse=True)')
        except AssertionError:
            _check_generator_call(g.calls)  # the likelier cause, when it is one
            raise
    check(isinstance(result, (tuple, list)) and len(result) == 2, 'model_loss must return (d_loss, g_loss)')
    check(len(g.calls) == 1, f'model_loss must call generator once, found {len(g.calls)} calls')
    _check_generator_call(g.calls)
    _discriminator_calls(d.calls, input_real, g.calls[0][1], 'discriminator')
    return result


def _check_generator_call(g_calls, message='model_loss must call generator(input_z, out_channel_dim, is_train=True)'):
    check(all(arguments.get('is_train', True) is True for arguments, _, _ in g_calls), message)


def _discriminator_calls(d_calls, input_real, fake, name):
    """(arguments of the call on the real images, of the call on the fakes): the first creates the variables,
    the second shares them."""
    check(len(d_calls) == 2, f'the loss must call {name} twice (real, then fake), found {len(d_calls)} calls')
    fake_calls = [arguments for arguments, _, _ in d_calls if reads(next(iter(arguments.values())), fake)]
    real_calls = [arguments for arguments, _, _ in d_calls
                  if reads(next(iter(arguments.values())), input_real) and arguments not in fake_calls]
    check(len(fake_calls) == 1, f"the loss must call {name}(generator's output, reuse=True)")
    check(len(real_calls) == 1 and real_calls[0].get('reuse') is not True,
          f'the loss must call {name}(input_real, reuse=False)')
    check(not d_calls[1][2], f'the second {name} call created new variables {names(d_calls[1][2])}: '
                             f"call {name}(generator's output, reuse=True)")
    return real_calls[0], fake_calls[0]


def _labels_of(arguments):
    return arguments.get('labels', list(arguments.values())[1])


def _scripted_loss(d_scores_real, d_scores_fake, *args, **kwargs):
    """A loss whose gradient reaches every variable of both networks."""
    return tf.reduce_mean(d_scores_fake - d_scores_real), -tf.reduce_mean(d_scores_fake)


def _check_losses_train_their_networks(d_loss, g_loss, inputs):
    """Scalar losses that reach every variable of their network, and finite numbers on a batch of 8."""
    check_tensor(d_loss, 'd_loss', [])
    check_tensor(g_loss, 'g_loss', [])
    outside = [v for v in variables_outside('discriminator') if not v.startswith('generator/')]
    check(not outside, f"the loss created variables outside the two networks' scopes: {names(outside)}")
    check_all_variables_used(d_loss, 'discriminator', 'd_loss')
    check_all_variables_used(g_loss, 'generator', 'g_loss')
    rng = np.random.default_rng(0)
    feed = {tensor: one_hot_batch(rng, 8, CLASSES) if size == 'one-hot' else random_batch(rng, 8, size)
            for tensor, size in inputs.items()}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = run(sess, [d_loss, g_loss], feed, 'the losses on 8 images')
    check(np.isfinite(values).all(), f'd_loss and g_loss must be finite numbers, found {values}')


def _label_losses(model_loss, channels, z_dim):
    """d_loss and g_loss of model_loss at each LOGIT_GRID point, measured with scripted networks that
    return those logits; and whether a repeated measurement differs (random labels)."""
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, [None, *IMAGE_SHAPE, channels])
        input_z = tf.placeholder(tf.float32, [None, z_dim])
        real_score, fake_score = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])

        def scripted_discriminator(images, *args, **kwargs):
            score = real_score if input_real.op in ancestors([images]) else fake_score
            logits = tf.zeros_like(images[:, :1, 0, 0]) + score  # shape (batch, 1)
            return tf.sigmoid(logits), logits

        def scripted_generator(z, out_channel_dim, *args, **kwargs):
            return tf.zeros_like(z[:, :1, None, None]) + tf.zeros([*IMAGE_SHAPE, out_channel_dim])

        d_loss, g_loss = _call_model_loss(model_loss, input_real, input_z, channels,
                                          scripted_discriminator, scripted_generator)
        feed = {input_real: np.zeros((LABEL_PROBE_BATCH, *IMAGE_SHAPE, channels), np.float32),
                input_z: np.zeros((LABEL_PROBE_BATCH, z_dim), np.float32)}
        return _measure_on_grid(d_loss, g_loss, feed, real_score, fake_score, 'model_loss')


def _score_losses(loss, shown):
    """d_loss and g_loss of a loss function of the two networks' scores, at each LOGIT_GRID point."""
    real_score, fake_score = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])
    ones = tf.ones([LABEL_PROBE_BATCH, 1])
    result = call(lambda: loss(ones * real_score, ones * fake_score), shown)
    check(isinstance(result, (tuple, list)) and len(result) == 2, f'{shown.split("(")[0]} must return '
                                                                  '(d_loss, g_loss)')
    check_tensor(result[0], 'd_loss', [])
    check_tensor(result[1], 'g_loss', [])
    return _measure_on_grid(*result, {}, real_score, fake_score, shown.split('(')[0])


def _measure_on_grid(d_loss, g_loss, feed, real_score, fake_score, what):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = np.array([run(sess, [d_loss, g_loss], {**feed, real_score: r, fake_score: f},
                               f'{what} on fixed discriminator scores') for r, f in LOGIT_GRID])
        random = differs_between_runs(sess, d_loss, {**feed, real_score: 3.0, fake_score: -3.0})
    return losses[:, 0].astype(np.float64), losses[:, 1].astype(np.float64), random


def _check_labels(d_values, g_values, random, suggest):
    """Find the labels behind d_loss and g_loss from their values at fixed discriminator scores."""
    tolerance = 0.02 * (1 + np.abs(d_values).max())
    (w_real, real_label), (w_fake, fake_label), d_residual = fit_cross_entropy(d_values)
    g_fit = fit_cross_entropy(g_values)
    if d_residual > tolerance or g_fit[2] > tolerance:
        _check_loss_directions(d_values, g_values)
        suggest('the losses are not the sigmoid cross-entropy the course uses '
                '(tf.nn.sigmoid_cross_entropy_with_logits); it is the loss the DCGAN architecture was tuned for')
        return
    check(w_real > 0.05, "d_loss must include the real images' loss: the sigmoid cross-entropy of the "
                         "discriminator's logits for the real images against labels of 1 (or 0.9)")
    check(w_fake > 0.05, "d_loss must include the fakes' loss: the sigmoid cross-entropy of the discriminator's "
                         'logits for the generated images against labels of 0')
    check(real_label >= 0.5, f'the real labels in d_loss are {real_label:.2f}: they must be near 1 (0.9 with '
                             'one-sided label smoothing: labels * (1 - smooth) needs smooth = 0.1, not 0.9)')
    check(real_label <= 1.02, f'the real labels in d_loss are {real_label:.2f}: above 1 the loss has no lower '
                              'bound (it keeps falling as the logits grow); use 1, or 0.9 for smoothing')
    check(fake_label >= -0.02, f'the fake labels in d_loss are {fake_label:.2f}: below 0 the loss has no lower '
                               'bound; use 0')
    check(fake_label < min(0.5, real_label - 0.1),
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
    check(abs(weight) > 0.05, "g_loss must be the sigmoid cross-entropy of the discriminator's logits for the "
                              'generated images against labels of 1')
    falls = label > 0.5 if weight > 0 else label < 0.5  # CE(fake, label), or the minimax form -CE(fake, label)
    check(falls, 'g_loss must fall when the discriminator takes the fakes for real: use labels of 1 with the '
                 "discriminator's fake logits")
    if weight < 0:
        suggest("g_loss is the minimax form, minus the discriminator's loss on the fakes: it saturates (almost no "
                'gradient) while the discriminator rejects the fakes, as it does early on; cross-entropy with labels '
                'of 1 gives the generator a strong gradient exactly then')
        return
    check(label <= 1.02, f'the labels in g_loss are {label:.2f}: above 1 the loss has no lower bound; use 1')
    if label < 0.98:
        suggest(f'the labels in g_loss are {label:.2f}: the generator usually aims at 1 (smoothing is for the '
                "discriminator's real labels); a lower target weakens its gradient")


def _check_loss_directions(d_values, g_values):
    """For losses of another form: d_loss is lower when the discriminator is right, g_loss when it is fooled."""
    at = {score: k for k, score in enumerate(LOGIT_GRID)}
    check(d_values[at[(3.0, -3.0)]] < d_values[at[(-3.0, 3.0)]],
          'd_loss must be lower when the discriminator scores real images high and fakes low')
    check(g_values[at[(0.0, 3.0)]] < g_values[at[(0.0, -3.0)]],
          'g_loss must fall when the discriminator takes the fakes for real')


def _loss_values(loss, shown, real, fake):
    """(d_loss, g_loss) of a loss function on fixed scores."""
    d_scores, g_scores = tf.placeholder(tf.float32, [None, 1]), tf.placeholder(tf.float32, [None, 1])
    result = call(lambda: loss(d_scores, g_scores), shown)
    check(isinstance(result, (tuple, list)) and len(result) == 2, f'{shown.split("(")[0]} must return '
                                                                  '(d_loss, g_loss)')
    check_tensor(result[0], 'd_loss', [])
    check_tensor(result[1], 'g_loss', [])
    with tf.Session() as sess:
        return run(sess, list(result), {d_scores: real, g_scores: fake}, shown)


def _check_least_squares(d_value, g_value, real, fake):
    """The least-squares GAN's losses by value, and the usual slips named when a value matches one of them."""
    def d_loss(r, f, real_target=1.0, fake_target=0.0, scale=0.5):
        return scale * np.mean((r - real_target) ** 2) + scale * np.mean((f - fake_target) ** 2)

    def g_loss(f, target=1.0, scale=0.5):
        return scale * np.mean((f - target) ** 2)
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))
    slips = [(d_loss(sigmoid(real), sigmoid(fake)), g_loss(sigmoid(fake)),
              'apply the squares to the raw scores (logits), not to tf.sigmoid of them: on probabilities the '
              'least-squares loss saturates as cross-entropy does'),
             (d_loss(real, fake, scale=1), g_loss(fake, scale=1), 'each least-squares term carries a factor 1/2'),
             (d_loss(real, fake, 0.0, 1.0), None, 'the targets in d_loss are 1 for real images and 0 for fakes'),
             (None, -d_loss(real, fake), "g_loss must be the generator's own least-squares loss "
                                         "1/2 E[(D(G(z)) - 1)^2], not -d_loss"),
             (None, g_loss(fake, 0.0), "g_loss's target for the fakes is 1 (the generator wants them scored as "
                                       'real), not 0')]
    expected = d_loss(real, fake), g_loss(fake)
    found = (d_value, g_value)
    for k, (what, formula) in enumerate((('d_loss', '1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]'),
                                         ('g_loss', '1/2 E[(D(G(z)) - 1)^2]'))):
        if np.isclose(found[k], expected[k], rtol=1e-4):
            continue
        for slip in slips:
            check(slip[k] is None or not np.isclose(found[k], slip[k], rtol=1e-4), f'lsgan_loss: {slip[2]}')
        check(False, f'{what} is {found[k]:.4f} for these scores, expected {formula} = {expected[k]:.4f}')


# --- model_opt -------------------------------------------------------------------------------------

def _synthetic_losses():
    """Small networks under the two scopes, batch norm in each, and no variable outside both (a notebook has
    none, and some learners' model_opt asserts so). The layer names suit the usual ways of picking variables:
    by scope, by 'discriminator' in the name, or by d_/g_."""
    z = tf.placeholder(tf.float32, [None, 4])
    with tf.variable_scope('generator'):
        hidden = tf.layers.batch_normalization(tf.layers.dense(z, 4, name='g_dense'), training=True, name='g_bn')
    with tf.variable_scope('discriminator'):
        hidden = tf.layers.batch_normalization(tf.layers.dense(hidden, 4, name='d_dense'), training=True,
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
    return d_loss, g_loss, {input_real: random_batch(rng, 8, input_real.shape[1:]),
                            input_z: random_batch(rng, 8, input_z.shape[1:])}


def _networks_failed(error, namespace):
    """One line for the notebook's own networks failing while model_opt's check trains them: which network to fix
    first, found by its own check (the op TensorFlow names may be one that was only cancelled)."""
    start = "model_opt passed on a small graph, but the notebook's own networks fail when they train on a batch of 8"
    for name in ('discriminator', 'generator'):
        if callable(namespace.get(name)):
            try:
                run_check(globals()[f'test_{name}'].check, namespace[name])
            except AssertionError as e:
                return f'{start}: fix {name} first, test_{name} says: {e}'
    return f'{start} ({error_line(error)}): see what test_discriminator and test_generator report'


def _check_model_opt(model_opt, d_loss, g_loss, feed, suggest, beta1=0.45):
    learning_rate = tf.placeholder(tf.float32, [])
    result = call(lambda: model_opt(d_loss, g_loss, learning_rate, beta1),
                  'model_opt(d_loss, g_loss, learning_rate, beta1)')
    check(isinstance(result, (tuple, list)) and len(result) == 2, 'model_opt must return (d_train_opt, g_train_opt)')
    feed = {**feed, learning_rate: 0.01}
    moving = {v.name for v in tf.global_variables() if 'moving_' in v.name and v.name.startswith('generator/')}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _suggest_adam(sess, beta1, suggest)
        for name, scope, train_op in zip(('d_train_opt', 'g_train_opt'), ('discriminator', 'generator'), result):
            changed = _changed_by(sess, train_op, feed)
            own = {v.name for v in tf.trainable_variables(scope)}
            wrong = sorted((changed & {v.name for v in tf.trainable_variables()}) - own)
            check(not wrong, f"{name} changed {names(wrong)}: pass var_list=[the trainable variables whose names "
                             f"start with '{scope}/'] to minimize")
            check(changed & own, f'{name} changed none of the {scope} variables')
        sess.run(tf.global_variables_initializer())
        # train runs both ops each batch; the generator's moving averages are what sampling uses
        missing = moving - _changed_by(sess, list(result), feed)
        check(not missing, f'running d_train_opt and g_train_opt did not update the batch-norm moving averages '
                           f'{names(sorted(missing))}: build the optimizers inside with tf.control_dependencies('
                           'tf.get_collection(tf.GraphKeys.UPDATE_OPS))')
        sess.run(tf.global_variables_initializer())
        untrainable = {v.name for v in tf.global_variables() if v not in tf.trainable_variables()}
        if not _changed_by(sess, list(result), {**feed, learning_rate: 0.0}) <= untrainable:
            suggest('model_opt ignores its learning_rate argument: pass it to the optimizer, so the value fed '
                    'to the placeholder is the one used')


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
