"""problem_unittests must accept every working solution and reject every broken one, each with its message.

Every case is an edit of the notebook's real code (one or more replacements), so the tests always
judge the code the learner sees. ACCEPTED holds the forms real learners wrote that the course's
reviewers passed: each must pass all five checks, with the suggestion named (or none). MISTAKES
holds what the rubric requires or what breaks training: each must fail with its own one-line message.
"""
import subprocess
import sys
from pathlib import Path

import pytest

import edits
import problem_unittests as tests
from dlnd.notebook import GRADED, cell_sources, definitions_source, load_functions
from edits import assert_caught, case_ids
from learner_solutions import SOLUTIONS

ROOT = Path(__file__).resolve().parent.parent

tf = tests.tf
SOLUTION = definitions_source(cell_sources())

# Lines of the reference solution the cases below edit.
LR_PLACEHOLDER = "tf.placeholder(tf.float32, (), name='learning_rate')"
D_LEAKY_2 = ("x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha)\n"
             "        # -> 4x4x128")
D_CONV_3 = "# -> 4x4x128\n        x = tf.layers.conv2d(x, 128"
D_LOGITS = "logits = tf.layers.dense(tf.layers.flatten(x), 1,"
G_HIDDEN_2 = ("x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=is_train), alpha)\n"
              "        # -> 28x28xC")
G_DENSE = "x = tf.layers.dense(z, 7 * 7 * 128, kernel_initializer=WEIGHT_INIT)"
D_LOSS = "d_loss = cross_entropy(d_logits_real, smooth) + cross_entropy(d_logits_fake, 0.0)"
G_LOSS = "g_loss = cross_entropy(d_logits_fake, 1.0)"
CE_BODY = ("labels = tf.fill(tf.shape(logits), label)\n        return tf.reduce_mean("
           "tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=labels))")
UPDATE_OPS = "with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):"
D_ADAM = "tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss"
G_ADAM = "tf.train.AdamOptimizer(learning_rate * GENERATOR_LR_FACTOR, beta1=beta1)"

# (function, [(text in the solution, replacement), ...], words of the suggestion printed, or None)
ACCEPTED = [
    ('model_inputs', [(LR_PLACEHOLDER, "tf.placeholder(tf.float32, name='learning_rate')")], None),
    ('discriminator', [("tf.nn.leaky_relu(", "(lambda x, alpha: tf.maximum(alpha * x, x))(")], None),
    ('discriminator', [("tf.nn.leaky_relu(", "(lambda x, alpha: tf.nn.relu(x))(")], 'plain ReLU'),
    ('discriminator', [("def discriminator(images, reuse=False, alpha=0.2)",
                        "def discriminator(images, reuse=False, alpha=0.01)")], 'slope 0.01'),
    ('discriminator', [(D_LEAKY_2, D_LEAKY_2.replace('\n', '\n        x = tf.nn.dropout(x, rate=0.3)\n', 1))],
     'dropout on top of batch normalization'),
    ('discriminator', [(D_LOGITS, "logits = tf.layers.dense(tf.reshape(x, (-1, 4 * 4 * 128)), 1,")], None),
    ('discriminator', [("return tf.sigmoid(logits), logits", "return tf.identity(tf.nn.sigmoid(logits)), logits")],
     None),
    ('generator', [(G_HIDDEN_2, G_HIDDEN_2.replace('\n', '\n        x = tf.nn.dropout(x, rate=0.3)\n', 1))],
     'dropout left on'),
    ('generator', [(G_HIDDEN_2, G_HIDDEN_2.replace(
        '\n', '\n        x = tf.layers.dropout(x, rate=0.3, training=is_train)\n', 1))], None),
    ('generator', [(G_HIDDEN_2, "x = tf.nn.leaky_relu(x, alpha)\n        # -> 28x28xC")], 'no batch normalization'),
    ('generator', [("tf.variable_scope('generator', reuse=not is_train)",
                    "tf.variable_scope('generator', reuse=tf.AUTO_REUSE)")], None),
    ('generator', [("x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=is_train), alpha)",
                    "x = tf.nn.relu(tf.layers.batch_normalization(x, training=is_train))")], None),
    ('model_loss', [("cross_entropy(d_logits_real, smooth)", "cross_entropy(d_logits_real, 1.0)")],
     'one-sided label smoothing'),
    ('model_loss', [(D_LOSS, "d_loss = cross_entropy(d_logits_real, smooth) + tf.reduce_mean("
                             "tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, "
                             "labels=tf.random_uniform(tf.shape(d_logits_fake), 0.0, 0.3)))")],
     'fake labels in d_loss are 0.15'),
    ('model_loss', [(D_LOSS, "d_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_real, "
                             "labels=tf.random_uniform(tf.shape(d_logits_real), 0.7, 1.2))) + "
                             "cross_entropy(d_logits_fake, 0.0)")], 'random'),
    ('model_loss', [(G_LOSS, "g_loss = cross_entropy(d_logits_fake, 0.9)")], 'labels in g_loss are 0.90'),
    ('model_loss', [(CE_BODY, "return tf.losses.sigmoid_cross_entropy(tf.fill(tf.shape(logits), label), logits, "
                              "label_smoothing=0.1)")], 'fake labels in d_loss are 0.05'),
    ('model_loss', [(D_LOSS, f"d_loss = ({D_LOSS[9:]}) / 2")], None),
    ('model_loss', [(G_LOSS, "g_loss = -cross_entropy(d_logits_fake, 0.0)")], 'minimax'),
    ('model_loss', [(G_LOSS, "g_loss = -d_loss")], 'minimax'),
    ('model_loss', [("generator(input_z, out_channel_dim, is_train=True)", "generator(input_z, out_channel_dim)"),
                    ("discriminator(input_real, reuse=False)", "discriminator(input_real)")], None),
    ('model_loss', [("_, d_logits_real = discriminator(input_real, reuse=False)",
                     "d_real, d_logits_real = discriminator(input_real, reuse=False)"),
                    ("_, d_logits_fake = discriminator(fake, reuse=True)",
                     "d_fake, d_logits_fake = discriminator(fake, reuse=True)"),
                    (D_LOSS, "d_loss = -tf.reduce_mean(smooth * tf.log(d_real) + (1 - smooth) * tf.log(1 - d_real)) "
                             "- tf.reduce_mean(tf.log(1 - d_fake))"),
                    (G_LOSS, "g_loss = -tf.reduce_mean(tf.log(d_fake))")], None),
    ('model_opt', [(UPDATE_OPS + "\n        d_train_opt",
                    "with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, 'discriminator')):\n"
                    "        d_train_opt"),
                   ("        g_train_opt = tf.train",
                    "    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, 'generator')):\n"
                    "        g_train_opt = tf.train")], None),
    ('model_opt', [(UPDATE_OPS + "\n        d_train_opt", "if True:\n        d_train_opt"),
                   ("        g_train_opt = tf.train",
                    "    with tf.control_dependencies([op for op in tf.get_collection(tf.GraphKeys.UPDATE_OPS) "
                    "if op.name.startswith('generator')]):\n        g_train_opt = tf.train")], None),
    ('model_opt', [("v.name.startswith('discriminator/')", "'discriminator' in v.name"),
                   ("v.name.startswith('generator/')", "'generator' in v.name")], None),
    ('model_opt', [("d_vars = [v for v in variables if v.name.startswith('discriminator/')]",
                    "d_vars = tf.trainable_variables('discriminator')")], None),
    ('model_opt', [(D_ADAM, "tf.train.AdamOptimizer(learning_rate).minimize(d_loss")], 'beta1'),
    ('model_opt', [(D_ADAM, "tf.train.RMSPropOptimizer(learning_rate).minimize(d_loss"),
                   (G_ADAM, "tf.train.RMSPropOptimizer(learning_rate * GENERATOR_LR_FACTOR)")], 'AdamOptimizer'),
    ('model_opt', [(D_ADAM, "tf.train.AdamOptimizer(0.0002, beta1=beta1).minimize(d_loss")], 'learning_rate'),
    # A learner's own sanity check: every variable is the discriminator's or the generator's (true in a notebook).
    ('model_opt', [(UPDATE_OPS, f"assert len(d_vars) + len(g_vars) == len(variables), 'a stray variable'\n    "
                                f"{UPDATE_OPS}")], None),
    ('model_opt', [("d_vars = [v for v in variables if v.name.startswith('discriminator/')]",
                    "d_vars = [v for v in variables if not v.name.startswith('generator/')]")], None),
]

# (function, [(text in the solution, replacement), ...], words the failure message must contain)
MISTAKES = [
    ('model_inputs', [("(None, image_width, image_height, image_channels)", "(None, image_width, image_height)")],
     'must have rank 4'),
    ('model_inputs', [("(None, z_dim), name='input_z'", "(None, z_dim, 1), name='input_z'")], 'z input'),
    ('model_inputs', [(LR_PLACEHOLDER, "tf.placeholder(tf.float32, (None,), name='learning_rate')")],
     'must be a scalar'),
    ('model_inputs', [("    return input_real, input_z, learning_rate", "    return input_real, input_z")],
     'must return 3 tensors'),
    ('model_inputs', [(LR_PLACEHOLDER, "tf.constant(0.001)")], 'must be a tf.placeholder'),
    ('model_inputs', [(LR_PLACEHOLDER, "tf.placeholder(tf.int32, name='learning_rate')")],
     'turns 0.0002 into 0), found int32'),
    ('model_inputs', [("tf.placeholder(tf.float32, (None, image_width", "tf.placeholder(tf.int32, (None, image_width")],
     'real-image input (1st returned) must be float32 (tf.placeholder(tf.float32, ...)), found int32'),
    ('discriminator', [("tf.variable_scope('discriminator', reuse=reuse)", "tf.variable_scope('disc', reuse=reuse)")],
     "tf.variable_scope('discriminator')"),
    ('discriminator', [("tf.variable_scope('discriminator', reuse=reuse)", "tf.variable_scope('discriminator')")],
     'reuse=True) failed: pass reuse'),
    ('discriminator', [("def discriminator(images, reuse=False, alpha=0.2)",
                        "def discriminator(images, alpha=0.2)"),
                       ("tf.variable_scope('discriminator', reuse=reuse)",
                        "tf.variable_scope('discriminator', reuse=tf.AUTO_REUSE)")],
     'must accept the argument reuse'),
    ('discriminator', [("x = tf.nn.leaky_relu(x, alpha)\n",
                        "x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha)\n")],
     'first layer'),
    ('discriminator', [("return tf.sigmoid(logits), logits", "return tf.tanh(logits), logits")], 'tf.sigmoid(logits)'),
    ('discriminator', [("return tf.sigmoid(logits), logits", "return logits, tf.sigmoid(logits)")],
     'tf.sigmoid(logits)'),
    ('discriminator', [("x = tf.layers.conv2d(x, 128, KERNEL_SIZE, strides=2, padding='same'",
                        "x = tf.layers.conv2d(x, 128, KERNEL_SIZE, strides=2, padding='valid'")], "padding='same'"),
    ('discriminator', [(D_LOGITS, "logits = tf.layers.dense(tf.layers.flatten(x), 2,")], 'shape [None, 1]'),
    # flattening the 7x7x64 layer as if it were 4x4x128: a batch of 64 gives 98 logits, one of 2 crashes
    ('discriminator', [(D_CONV_3, "# -> 4x4x128\n        x2 = x\n        x = tf.layers.conv2d(x, 128"),
                       (D_LOGITS, "logits = tf.layers.dense(tf.reshape(x2, (-1, 4 * 4 * 128)), 1,")],
     'discriminator on a batch of 2 images failed at discriminator/Reshape'),
    ('discriminator', [(D_LOGITS, "logits = tf.layers.dense(tf.reshape(x, (-1, 2 * 2 * 128)), 1,")],
     'gave logits of shape (8, 1), expected (2, 1)'),
    ('discriminator', [(D_CONV_3, "# -> 4x4x128\n        x2 = x\n        x = tf.layers.conv2d(x, 128"),
                       (D_LOGITS, "logits = tf.layers.dense(tf.layers.flatten(x2), 1,")],
     'discriminator/conv2d_2/kernel:0, discriminator/conv2d_2/bias:0, discriminator/batch_normalization_1/gamma:0 '
     "and 1 more get no gradient from the discriminator's logits"),
    ('discriminator', [("x = tf.layers.conv2d(x, 64", "x = tf.layers.conv2d(images, 64"),
                       ("x = tf.layers.conv2d(x, 128", "x = tf.layers.conv2d(images, 128")],
     "discriminator/conv2d/kernel:0, discriminator/conv2d/bias:0, discriminator/conv2d_1/kernel:0 and 3 more get no "
     "gradient from the discriminator's logits: that layer's output is never used"),
    ('discriminator', [(D_LEAKY_2, "x = tf.layers.batch_normalization(x, training=True)\n        # -> 4x4x128")],
     'discriminator layer discriminator/conv2d_1 has no activation'),
    ('generator', [("tf.variable_scope('generator', reuse=not is_train)",
                    "tf.variable_scope('gen', reuse=not is_train)")], "tf.variable_scope('generator')"),
    ('generator', [("tf.variable_scope('generator', reuse=not is_train)",
                    "tf.variable_scope('generator', reuse=is_train)")], 'is_train=True) failed'),
    ('generator', [("reuse=not is_train", "reuse=False")], 'is_train=False) failed'),
    ('generator', [("def generator(z, out_channel_dim, is_train=True, alpha=0.2)",
                    "def generator(z, out_channel_dim, training=True, alpha=0.2)"),
                   ("reuse=not is_train", "reuse=not training"), ("training=is_train", "training=training")],
     'generator must accept the argument is_train'),
    ('generator', [("        return tf.tanh(logits)", "        return tf.sigmoid(logits)")], 'tf.tanh'),
    ('generator', [("        return tf.tanh(logits)",
                    "        return tf.tanh(tf.layers.batch_normalization(logits, training=is_train))")],
     'last layer'),
    ('generator', [("training=is_train", "training=True")], 'uses batch statistics'),
    ('generator', [("out_channel_dim, KERNEL_SIZE, strides=2", "out_channel_dim, KERNEL_SIZE, strides=1")],
     'shape [None, 28, 28, 5]'),
    ('generator', [(G_DENSE, G_DENSE.replace('7 * 7 * 128', '7 * 7 * 256'))],
     'is_train=True) for a batch of 2 made 4 images'),
    ('generator', [(G_DENSE, G_DENSE.replace('7 * 7 * 128', '7 * 7 * 100'))],
     'for a batch of 2 failed at generator/Reshape: InvalidArgumentError: Input to reshape'),
    ('generator', [(G_HIDDEN_2, "x = tf.nn.leaky_relu(x, alpha)\n        x2 = x\n        # -> 28x28xC"),
                   ("logits = tf.layers.conv2d_transpose(x, out_channel_dim",
                    "x = tf.layers.conv2d_transpose(tf.reshape(z, (-1, 10, 10, 1)), 64, 4, strides=2, padding='same')\n"
                    "        logits = tf.layers.conv2d_transpose(x2, out_channel_dim")],
     "generator/conv2d_transpose_1/kernel:0, generator/conv2d_transpose_1/bias:0 get no gradient from the "
     "generator's output"),
    ('model_loss', [("cross_entropy(d_logits_real, smooth)", "cross_entropy(d_logits_real, 1 - smooth)")],
     'real labels in d_loss are 0.10'),
    ('model_loss', [("def model_loss(input_real, input_z, out_channel_dim, smooth=0.9)",
                     "def model_loss(input_real, input_z, out_channel_dim, smooth=1.1)")],
     'real labels in d_loss are 1.10: above 1 the loss has no lower bound'),
    ('model_loss', [("cross_entropy(d_logits_fake, 0.0)", "cross_entropy(d_logits_fake, 0.9)")],
     'fake labels in d_loss are 0.90: they must be near 0'),
    ('model_loss', [("cross_entropy(d_logits_fake, 0.0)", "cross_entropy(d_logits_fake, -0.2)")],
     'fake labels in d_loss are -0.20: below 0'),
    ('model_loss', [(D_LOSS, "d_loss = cross_entropy(d_logits_real, smooth)")], "d_loss must include the fakes' loss"),
    ('model_loss', [(G_LOSS, "g_loss = cross_entropy(d_logits_fake, 0.0)")], 'g_loss must fall'),
    ('model_loss', [(G_LOSS, "g_loss = cross_entropy(d_logits_fake, 1.2)")], 'labels in g_loss are 1.20'),
    ('model_loss', [("_, d_logits_fake = discriminator(fake, reuse=True)",
                     "_, d_logits_fake = discriminator(input_real, reuse=True)")],
     "discriminator(generator's output, reuse=True)"),
    ('model_loss', [("fake = generator(input_z, out_channel_dim, is_train=True)",
                     "fake = generator(input_z, out_channel_dim, is_train=False)")], 'is_train=True'),
    ('model_loss', [("    return d_loss, g_loss", "    return tf.reshape(d_loss, [1]), g_loss")],
     'd_loss must have rank 0'),
    ('model_opt', [(UPDATE_OPS, "with tf.control_dependencies([]):")], 'moving averages'),
    ('model_opt', [("minimize(d_loss, var_list=d_vars)", "minimize(d_loss)")], 'd_train_opt changed'),
    ('model_opt', [("g_loss, var_list=g_vars)", "g_loss, var_list=variables)")], 'g_train_opt changed'),
    ('model_opt', [(UPDATE_OPS, f"assert len(d_vars) == 99, 'need 99 variables'\n    {UPDATE_OPS}")],
     "an assert in your own code failed (model_opt: `assert len(d_vars) == 99, 'need 99 variables'`): need 99 "
     "variables; it is your check, not this test's"),
    ('model_opt', [(UPDATE_OPS, f"assert len(d_vars) == 99\n    {UPDATE_OPS}")],
     "an assert in your own code failed (model_opt: `assert len(d_vars) == 99`); it is your check"),
    # A discriminator that works only at batch size 64: model_opt itself is right, the networks it trains are not.
    ('model_opt', [(D_LOGITS, "logits = tf.layers.dense(tf.reshape(x, (64, 4 * 4 * 128)), 1,")],
     "model_opt passed on a small graph, but the notebook's own networks fail when they train on a batch of 8: fix "
     "discriminator first, test_discriminator says: the discriminator's logits (2nd returned) must have shape"),
    ('model_opt', [("tf.reshape(x, (-1, 7, 7, 128))", "tf.reshape(x, (64, 7, 7, 128))")],
     "the notebook's own networks fail when they train on a batch of 8: fix generator first, test_generator says:"),
]


def edited(replacements):
    return edits.edited(tf, SOLUTION, replacements)


@pytest.mark.parametrize('name', GRADED)
def test_the_notebook_solution_passes_without_suggestions(name, capsys):
    getattr(tests, f'test_{name}')(load_functions(tf)[name])
    assert capsys.readouterr().out == 'Tests Passed\n'


@pytest.mark.parametrize('name, replacements, suggestion', ACCEPTED, ids=case_ids(ACCEPTED))
def test_each_working_form_passes_all_five_checks(name, replacements, suggestion, capsys):
    functions = edited(replacements)
    for graded in GRADED:
        getattr(tests, f'test_{graded}')(functions[graded])
    lines = capsys.readouterr().out.splitlines()
    assert lines.count('Tests Passed') == len(GRADED), lines
    suggestions = [line for line in lines if line.startswith('Suggestion: ')]
    if suggestion is None:
        assert not suggestions
    else:
        assert any(suggestion in line for line in suggestions), suggestions


@pytest.mark.parametrize('name, replacements, message', MISTAKES, ids=case_ids(MISTAKES))
def test_each_mistake_is_caught_with_its_own_message(name, replacements, message):
    assert_caught(getattr(tests, f'test_{name}'), edited(replacements)[name], message)


def test_failures_are_one_line_and_the_graph_is_fresh(capsys):
    # A failure leaves no variables behind for the next test to trip over.
    functions = load_functions(tf)
    with pytest.raises(AssertionError):
        tests.test_discriminator(lambda images, reuse=False: (images, images))
    tests.test_discriminator(functions['discriminator'])
    assert capsys.readouterr().out == 'Tests Passed\n'


def test_check_returns_the_suggestions_the_test_prints():
    functions = edited([("cross_entropy(d_logits_real, smooth)", "cross_entropy(d_logits_real, 1.0)")])
    suggestions = tests.check_function('model_loss', functions['model_loss'])
    assert len(suggestions) == 1 and 'one-sided label smoothing' in suggestions[0]


@pytest.mark.parametrize('style', sorted(SOLUTIONS))
def test_learners_solutions_pass_with_the_suggestions_a_reviewer_would_make(style):
    solution, expected = SOLUTIONS[style]
    functions = load_functions(tf, SOLUTION + '\n\n' + '\n\n'.join(solution.values()))
    for name in GRADED:
        suggestions = tests.check_function(name, functions[name])
        wanted = expected.get(name, [])
        assert len(suggestions) == len(wanted) and all(any(w in s for s in suggestions) for w in wanted), \
            (name, suggestions)


STUB_CELLS = ['import problem_unittests as tests',
              'def discriminator(images, reuse=False):\n    # TODO: Implement Function\n    return None\n\n\n'
              'tests.test_discriminator(discriminator)']
NOT_WRITTEN = 'discriminator(images) returned None: it is not written yet, or it does not return its result'


def test_a_function_not_written_yet_fails_in_a_few_lines_in_a_notebook(tmp_path):
    """In a real kernel, as the learner meets it: which check, and the message; none of the checks' frames."""
    import re
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in STUB_CELLS])
    NotebookClient(nb, timeout=300, kernel_name='python3', allow_errors=True,
                   resources={'metadata': {'path': str(ROOT)}}).execute()
    error = next(out for out in nb.cells[1].outputs if out.output_type == 'error')  # nbval fails such a cell
    shown = [re.sub(r'\x1b\[[0-9;]*m', '', line) for line in '\n'.join(error.traceback).splitlines()]
    assert error.ename == 'AssertionError' and len(shown) <= 8, shown
    assert shown[0] == 'AssertionError: tests.test_discriminator did not pass' and NOT_WRITTEN in ' '.join(shown)
    assert not any('graph_checks' in line or 'problem_unittests.py' in line for line in shown)


def test_in_plain_python_a_failed_check_ends_with_its_message():
    script = '\n'.join(STUB_CELLS)
    run = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1] == f'AssertionError: {NOT_WRITTEN}'


def test_a_long_message_is_cut_to_eight_lines():
    from dlnd.checks.graph_checks import failure_lines
    lines = failure_lines('test_generator', AssertionError('word ' * 400))
    assert len(lines) == 8 and lines[-1].endswith('[...]') and all(len(line) <= 100 for line in lines)
