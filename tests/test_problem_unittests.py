"""problem_unittests must pass the notebook's own solution and catch each typical mistake.

Each mistake is made by editing the notebook's real code (one replacement), so the tests
always judge the code the learner sees.
"""
import pytest

import problem_unittests as tests
from dlnd.notebook import GRADED, cell_sources, definitions_source, load_functions

tf = tests.tf
SOLUTION = definitions_source(cell_sources())

# (function, text in the solution, replacement, words the failure message must contain)
MISTAKES = [
    ('model_inputs', "(None, image_width, image_height, image_channels)", "(None, image_width, image_height)",
     'must have rank 4'),
    ('model_inputs', "(None, z_dim), name='input_z'", "(None, z_dim, 1), name='input_z'", 'z input'),
    ('model_inputs', "tf.placeholder(tf.float32, (), name='learning_rate')",
     "tf.placeholder(tf.float32, (None,), name='learning_rate')", 'learning-rate input'),
    ('model_inputs', "    return input_real, input_z, learning_rate", "    return input_real, input_z",
     'must return 3 tensors'),
    ('model_inputs', "tf.placeholder(tf.float32, (), name='learning_rate')", "tf.constant(0.001)",
     'must be a tf.placeholder'),
    ('discriminator', "tf.variable_scope('discriminator', reuse=reuse)",
     "tf.variable_scope('disc', reuse=reuse)", "tf.variable_scope('discriminator')"),
    ('discriminator', "tf.variable_scope('discriminator', reuse=reuse)", "tf.variable_scope('discriminator')",
     'reuse=True) failed: pass reuse'),
    ('discriminator', "x = tf.nn.leaky_relu(x, alpha)\n",
     "x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha)\n", 'first layer'),
    ('discriminator', "return tf.sigmoid(logits), logits", "return tf.tanh(logits), logits", 'tf.sigmoid(logits)'),
    ('discriminator', "return tf.sigmoid(logits), logits", "return logits, tf.sigmoid(logits)", 'tf.sigmoid(logits)'),
    ('discriminator', "x = tf.layers.conv2d(x, 128, KERNEL_SIZE, strides=2, padding='same'",
     "x = tf.layers.conv2d(x, 128, KERNEL_SIZE, strides=2, padding='valid'", "padding='same'"),
    ('discriminator', "tf.nn.leaky_relu(", "(lambda x, alpha: tf.nn.relu(x))(", 'leaky ReLU'),
    ('discriminator', "logits = tf.layers.dense(tf.layers.flatten(x), 1,",
     "logits = tf.layers.dense(tf.layers.flatten(x), 2,", 'shape [None, 1]'),
    ('generator', "tf.variable_scope('generator', reuse=not is_train)", "tf.variable_scope('gen', reuse=not is_train)",
     "tf.variable_scope('generator')"),
    ('generator', "tf.variable_scope('generator', reuse=not is_train)",
     "tf.variable_scope('generator', reuse=is_train)", 'is_train=True) failed'),
    ('generator', "reuse=not is_train", "reuse=False", 'is_train=False) failed'),
    ('generator', "        return tf.tanh(logits)", "        return tf.sigmoid(logits)", 'tf.tanh'),
    ('generator', "        return tf.tanh(logits)",
     "        return tf.tanh(tf.layers.batch_normalization(logits, training=is_train))", 'last layer'),
    ('generator', "x = tf.reshape(x, (-1, 7, 7, 128))\n        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, "
     "training=is_train), alpha)", "x = tf.reshape(x, (-1, 7, 7, 128))\n        x = tf.nn.leaky_relu(x, alpha)",
     'has no batch normalization'),
    ('generator', "training=is_train", "training=True", 'uses batch statistics'),
    ('generator', "out_channel_dim, KERNEL_SIZE, strides=2", "out_channel_dim, KERNEL_SIZE, strides=1",
     'shape [None, 28, 28, 5]'),
    ('model_loss', "d_loss = cross_entropy(d_logits_real, smooth)", "d_loss = cross_entropy(d_logits_real, 1.0)",
     'smoothed'),
    ('model_loss', "cross_entropy(d_logits_fake, 0.0)", "cross_entropy(d_logits_fake, 0.1)", 'fake labels'),
    ('model_loss', "g_loss = cross_entropy(d_logits_fake, 1.0)", "g_loss = cross_entropy(d_logits_fake, 0.0)",
     'g_loss must fall'),
    ('model_loss', "_, d_logits_fake = discriminator(fake, reuse=True)",
     "_, d_logits_fake = discriminator(input_real, reuse=True)", "discriminator(generator's output, reuse=True)"),
    ('model_loss', "fake = generator(input_z, out_channel_dim, is_train=True)",
     "fake = generator(input_z, out_channel_dim, is_train=False)", 'is_train=True'),
    ('model_loss', "    return d_loss, g_loss", "    return tf.reshape(d_loss, [1]), g_loss",
     'd_loss must have rank 0'),
    ('model_opt', "with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):",
     "with tf.control_dependencies([]):", 'moving averages'),
    ('model_opt', "minimize(d_loss, var_list=d_vars)", "minimize(d_loss)", 'd_train_opt changed'),
    ('model_opt', "g_loss, var_list=g_vars)", "g_loss, var_list=variables)", 'g_train_opt changed'),
    ('model_opt', "tf.train.AdamOptimizer(learning_rate * GENERATOR_LR_FACTOR, beta1=beta1)",
     "tf.train.GradientDescentOptimizer(learning_rate * GENERATOR_LR_FACTOR)", 'AdamOptimizer'),
    ('model_opt', "tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss",
     "tf.train.AdamOptimizer(learning_rate).minimize(d_loss", 'pass beta1'),
]


@pytest.mark.parametrize('name', GRADED)
def test_the_notebook_solution_passes(name, capsys):
    getattr(tests, f'test_{name}')(load_functions(tf)[name])
    assert capsys.readouterr().out == 'Tests Passed\n'


@pytest.mark.parametrize('name, original, mistake, message', MISTAKES,
                         ids=[f'{m[0]}-{i}' for i, m in enumerate(MISTAKES)])
def test_each_mistake_is_caught_with_a_clear_message(name, original, mistake, message):
    assert SOLUTION.count(original) >= 1, f'the notebook no longer contains {original!r}; update this case'
    functions = load_functions(tf, SOLUTION.replace(original, mistake))
    with pytest.raises(AssertionError) as error:
        getattr(tests, f'test_{name}')(functions[name])
    text = str(error.value)
    assert message in text and '\n' not in text, text


def test_failures_are_one_line_and_the_graph_is_fresh(capsys):
    # A failure leaves no variables behind for the next test to trip over.
    functions = load_functions(tf)
    with pytest.raises(AssertionError):
        tests.test_discriminator(lambda images, reuse=False: (images, images))
    tests.test_discriminator(functions['discriminator'])
    assert capsys.readouterr().out == 'Tests Passed\n'
