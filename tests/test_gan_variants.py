"""gan_variants.ipynb's graded checks accept its reference code and every right variation, and catch each
typical mistake with its own one-line message; every case is an edit of the notebook's real code."""
import numpy as np
import pytest

import helper
import problem_unittests as tests
from dlnd.gan import gan_family
from dlnd.notebook import (VARIANTS_GRADED, VARIANTS_NOTEBOOK, cell_sources, definitions_source, load_functions,
                           load_variant_functions)
from edits import assert_caught, case_ids, edited

tf = tests.tf
SOLUTION = definitions_source(cell_sources(VARIANTS_NOTEBOOK))

FC_D_HIDDEN = "x = tf.nn.leaky_relu(tf.layers.dense(tf.layers.flatten(images), HIDDEN_UNITS), alpha)"
FC_G_HIDDEN = "x = tf.nn.leaky_relu(tf.layers.dense(z, HIDDEN_UNITS), alpha)"
LS_D = ("d_loss = 0.5 * tf.reduce_mean(tf.square(d_scores_real - 1.0)) + "
        "0.5 * tf.reduce_mean(tf.square(d_scores_fake))")
LS_G = "g_loss = 0.5 * tf.reduce_mean(tf.square(d_scores_fake - 1.0))"
CG_INPUT = "x = tf.layers.dense(tf.concat([z, labels], axis=1), 7 * 7 * 128, kernel_initializer=WEIGHT_INIT)"
CD_INPUT = "x = tf.concat([images, planes], axis=3)"
CD_FIRST = ("x = tf.layers.conv2d(x, 32, KERNEL_SIZE, strides=2, padding='same', kernel_initializer=WEIGHT_INIT)\n"
            "        x = tf.nn.leaky_relu(x, alpha)")
CML_FAKE = "_, d_logits_fake = conditional_discriminator(fake, input_labels, reuse=True)"
CML_RETURN = "return loss(d_logits_real, d_logits_fake)"

# (function, [(text in the solution, replacement), ...], words of the suggestion printed, or None)
ACCEPTED = [
    ('fc_discriminator', [(FC_D_HIDDEN, FC_D_HIDDEN.replace('tf.nn.leaky_relu(', '(lambda x, a: tf.maximum(a * x, x))(')
                           + "\n        x = tf.nn.leaky_relu(tf.layers.dense(x, 64), alpha)")], None),
    ('fc_discriminator', [(FC_D_HIDDEN, FC_D_HIDDEN + '\n        x = tf.nn.dropout(x, rate=0.3)')], None),
    ('fc_generator', [("return tf.reshape(tf.tanh(x), (-1, 28, 28, out_channel_dim))",
                       "return tf.tanh(tf.reshape(x, (-1, 28, 28, out_channel_dim)))")], None),
    ('fc_generator', [(FC_G_HIDDEN, "x = tf.nn.leaky_relu(tf.layers.batch_normalization(tf.layers.dense(z, "
                                    "HIDDEN_UNITS), training=is_train), alpha)")], None),
    ('gan_loss', [("cross_entropy(d_logits_real, smooth)", "cross_entropy(d_logits_real, 1.0)")],
     'one-sided label smoothing'),
    ('lsgan_loss', [(LS_D, "d_loss = tf.reduce_mean(tf.square(d_scores_real - 1) + tf.square(d_scores_fake)) / 2")],
     None),
    ('lsgan_loss', [(LS_G, "g_loss = tf.reduce_mean(0.5 * (d_scores_fake - 1) ** 2)")], None),
    ('conditional_generator', [(CG_INPUT, "x = tf.layers.dense(z, 7 * 7 * 128, kernel_initializer=WEIGHT_INIT) + "
                                          "tf.layers.dense(labels, 7 * 7 * 128)")], None),
    ('conditional_discriminator', [("logits = tf.layers.dense(tf.layers.flatten(x), 1, kernel_initializer=WEIGHT_INIT)",
                                    "logits = tf.layers.dense(tf.concat([tf.layers.flatten(x), labels], axis=1), 1)")],
     None),
    ('conditional_model_loss', [("_, d_logits_real = conditional_discriminator(input_real, input_labels, "
                                 "reuse=False)", "_, d_logits_real = conditional_discriminator(input_real, "
                                                 "labels=input_labels)")], None),
]

# (function, [(text in the solution, replacement), ...], words the failure message must contain)
MISTAKES = [
    ('fc_discriminator', [(FC_D_HIDDEN, "x = tf.layers.flatten(images)")], 'needs at least one hidden layer'),
    ('fc_discriminator', [(FC_D_HIDDEN, FC_D_HIDDEN.replace('tf.nn.leaky_relu(', '(lambda x, a: tf.nn.relu(x))('))],
     'fc_discriminator layer discriminator/dense uses Relu: use a leaky ReLU'),
    ('fc_discriminator', [(FC_D_HIDDEN, FC_D_HIDDEN.replace(', alpha)', ', 0.01)'))],
     'gave leaky ReLU slopes [0.01]: use the alpha argument'),
    ('fc_discriminator', [(FC_D_HIDDEN, "x = tf.layers.dense(tf.layers.flatten(images), HIDDEN_UNITS)")],
     'fc_discriminator layer discriminator/dense has no activation'),
    ('fc_discriminator', [("return tf.sigmoid(logits), logits", "return logits, tf.sigmoid(logits)")],
     "fc_discriminator's output (1st returned) must be tf.sigmoid(logits)"),
    ('fc_discriminator', [("tf.variable_scope('discriminator', reuse=reuse):\n        x = tf.nn.leaky_relu(tf.layers"
                           ".dense(tf.layers.flatten", "tf.variable_scope('discriminator'):\n        x = tf.nn."
                                                      "leaky_relu(tf.layers.dense(tf.layers.flatten")],
     'reuse=True) failed: pass reuse'),
    ('fc_discriminator', [(FC_D_HIDDEN, "x = tf.nn.leaky_relu(tf.layers.conv2d(images, 8, 4, 2, 'same'), alpha)"),
                          ("logits = tf.layers.dense(x, 1)\n", "logits = tf.layers.dense(tf.layers.flatten(x), 1)\n")],
     'must be fully connected'),
    ('fc_generator', [(FC_G_HIDDEN, "x = z")], 'fc_generator needs at least one hidden layer'),
    ('fc_generator', [("return tf.reshape(tf.tanh(x), (-1, 28, 28, out_channel_dim))",
                       "return tf.reshape(tf.sigmoid(x), (-1, 28, 28, out_channel_dim))")], 'must come from tf.tanh'),
    ('fc_generator', [("x = tf.layers.dense(x, 28 * 28 * out_channel_dim)", "x = tf.layers.dense(x, 28 * 28)")],
     'fc_generator(..., is_train=True) for a batch of 2 failed at generator/Reshape'),
    ('fc_generator', [("with tf.variable_scope('generator', reuse=not is_train):\n        x = tf.nn.leaky_relu(tf."
                       "layers.dense(z,", "with tf.variable_scope('generator', reuse=is_train):\n        x = tf.nn."
                                          "leaky_relu(tf.layers.dense(z,")], 'is_train=True) failed'),
    ('gan_loss', [("cross_entropy(d_logits_real, smooth)", "cross_entropy(d_logits_real, 1 - smooth)")],
     'real labels in d_loss are 0.10'),
    ('gan_loss', [("g_loss = cross_entropy(d_logits_fake, 1.0)", "g_loss = -d_loss")], None),  # accepted: see below
    ('lsgan_loss', [(LS_D, LS_D.replace('d_scores_real - 1.0', 'tf.sigmoid(d_scores_real) - 1.0').replace(
        'tf.square(d_scores_fake)', 'tf.square(tf.sigmoid(d_scores_fake))')),
                    (LS_G, LS_G.replace('d_scores_fake - 1.0', 'tf.sigmoid(d_scores_fake) - 1.0'))],
     'not to tf.sigmoid of them'),
    ('lsgan_loss', [(LS_G, "g_loss = -d_loss")], 'not -d_loss'),
    ('lsgan_loss', [(LS_D, LS_D.replace('0.5 * ', ''))], 'a factor 1/2'),
    ('lsgan_loss', [(LS_D, LS_D.replace('d_scores_real - 1.0', 'd_scores_real').replace(
        'tf.square(d_scores_fake)', 'tf.square(d_scores_fake - 1.0)'))], 'targets in d_loss are 1 for real images'),
    ('lsgan_loss', [(LS_G, LS_G.replace('d_scores_fake - 1.0', 'd_scores_fake'))], "target for the fakes is 1"),
    ('lsgan_loss', [(LS_D, LS_D.replace('tf.reduce_mean', 'tf.reduce_sum'))], 'd_loss is'),
    ('conditional_generator', [(CG_INPUT, "x = tf.layers.dense(z, 7 * 7 * 128, kernel_initializer=WEIGHT_INIT)")],
     'conditional_generator ignores its labels'),
    ('conditional_generator', [("training=is_train", "training=True")], 'uses batch statistics'),
    ('conditional_discriminator', [(CD_INPUT, "x = images")], 'conditional_discriminator ignores its labels'),
    ('conditional_discriminator', [(CD_FIRST, CD_FIRST.replace(
        'tf.nn.leaky_relu(x, alpha)', 'tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha)'))],
     'must not apply batch normalization to its first layer'),
    ('conditional_model_loss', [(CML_FAKE, "_, d_logits_fake = conditional_discriminator(fake, "
                                           "tf.zeros_like(input_labels), reuse=True)")],
     'score the fakes with the labels they were made for'),
    ('conditional_model_loss', [(CML_FAKE, "d_fake, d_logits_fake = conditional_discriminator(fake, input_labels, "
                                           "reuse=True)"), (CML_RETURN, "return loss(d_logits_real, d_fake)")],
     'not the sigmoid output'),
    ('conditional_model_loss', [("fake = conditional_generator(input_z, input_labels, out_channel_dim, is_train=True)",
                                 "fake = conditional_generator(input_z, input_labels, out_channel_dim, "
                                 "is_train=False)")], 'is_train=True'),
    ('conditional_model_loss', [("fake = conditional_generator(input_z, input_labels,",
                                 "fake = conditional_generator(input_z, tf.one_hot(tf.zeros_like(input_labels[:, 0], "
                                 "tf.int32), 10),")], 'give conditional_generator the labels input_labels'),
]
AUGMENT_START = "    n, size = tf.shape(images)[0], images.shape.as_list()[1]"
AUGMENT_END = "return x * (1.0 - tf.cast(inside, tf.float32))[..., None]"
AML_FAKE = "_, d_logits_fake = discriminator(augment(fake), reuse=True)"
ACCEPTED += [
    ('augment', [(AUGMENT_START, "    return tf.roll(images, 1, axis=1) * tf.random_uniform([tf.shape(images)[0], 1, "
                                 "1, 1], 0.5, 1.5)\n" + AUGMENT_START)], None),
    ('augmented_model_loss', [("_, d_logits_real = discriminator(augment(input_real), reuse=False)\n    " + AML_FAKE,
                               "both = augment(tf.concat([input_real, fake], axis=0))\n    "
                               "_, d_logits_real = discriminator(both[:tf.shape(input_real)[0]], reuse=False)\n    "
                               "_, d_logits_fake = discriminator(both[tf.shape(input_real)[0]:], reuse=True)")], None),
]
MISTAKES += [
    ('augment', [(AUGMENT_START, "    return tf.roll(images + tf.random_uniform([], -0.5, 0.5), tf.random_uniform([2], "
                                 "-3, 4, dtype=tf.int32), axis=[1, 2])\n" + AUGMENT_START)],
     'gives every image of the batch the same change'),
    ('augment', [(AUGMENT_END, AUGMENT_END.replace('return x * ', 'return tf.round(127.5 * x * ') + ') / 127.5')],
     'no gradient flows back through augment'),
    ('augment', [(AUGMENT_START, "    return images\n" + AUGMENT_START)], 'augment must change the images'),
    ('augmented_model_loss', [(AML_FAKE, "_, d_logits_fake = discriminator(fake, reuse=True)")],
     'augmenting only the real images teaches the generator to draw the augmentations'),
    ('augmented_model_loss', [("discriminator(augment(input_real), reuse=False)",
                               "discriminator(input_real, reuse=False)")], 'must augment the real images'),
    ('augmented_model_loss', [(AML_FAKE, "_, d_logits_fake = discriminator(augment(tf.stop_gradient(fake)), "
                                         "reuse=True)")], 'g_loss sends no gradient to the generator'),
]
MISTAKES, MINIMAX = [m for m in MISTAKES if m[2]], [m for m in MISTAKES if not m[2]]
ACCEPTED += [(name, replacements, 'minimax') for name, replacements, _ in MINIMAX]


def functions_with(replacements):
    return edited(tf, SOLUTION, replacements)


@pytest.mark.parametrize('name', VARIANTS_GRADED)
def test_the_reference_solution_passes_without_suggestions(name, capsys):
    getattr(tests, f'test_{name}')(load_functions(tf, notebook=VARIANTS_NOTEBOOK)[name])
    assert capsys.readouterr().out == 'Tests Passed\n'


@pytest.mark.parametrize('name, replacements, suggestion', ACCEPTED, ids=case_ids(ACCEPTED))
def test_each_right_variation_passes(name, replacements, suggestion):
    suggestions = tests.check_function(name, functions_with(replacements)[name])
    assert (not suggestions) if suggestion is None else any(suggestion in s for s in suggestions), suggestions


@pytest.mark.parametrize('name, replacements, message', MISTAKES, ids=case_ids(MISTAKES))
def test_each_mistake_is_caught_with_its_own_message(name, replacements, message):
    assert_caught(getattr(tests, f'test_{name}'), functions_with(replacements)[name], message)


def test_there_are_fifteen_mistakes_or_more_with_distinct_messages():
    assert len(MISTAKES) >= 15 and len({message for _, _, message in MISTAKES}) == len(MISTAKES)


# --- the training machinery the notebook uses ------------------------------------------------------

@pytest.fixture(scope='module')
def notebook_functions():
    return load_functions(tf, notebook=VARIANTS_NOTEBOOK)


@pytest.fixture(scope='module')
def mnist_data(mnist_folder):
    return helper.Dataset('mnist', mnist_folder)


@pytest.fixture(scope='module')
def vanilla(notebook_functions):
    f = notebook_functions
    return gan_family.Variant('vanilla', f['fc_discriminator'], f['fc_generator'], f['gan_loss'])


def test_labelled_batches_pair_each_image_with_its_digit(mnist_data):
    images, labels = next(mnist_data.get_batches(50, labels=True))
    assert images.shape == (50, 28, 28, 1) and labels.shape == (50, 10) and labels.dtype == np.float32
    assert (labels.sum(axis=1) == 1).all()
    digits = {int(d) for d in np.asarray(mnist_data.labels)}
    assert digits == set(range(10)) and mnist_data.classes == 10
    # the batch's images are the training images with exactly those labels
    index = {mnist_data.images[k].tobytes(): int(mnist_data.labels[k]) for k in range(len(mnist_data.labels))}
    as_uint8 = np.rint((images + 1) * 127.5).astype(np.uint8)
    assert [index[image.tobytes()] for image in as_uint8] == list(labels.argmax(axis=1))


def test_unlabelled_data_refuses_labels(tmp_path):
    class Unlabelled(helper.Dataset):
        def __init__(self):
            self.name, self.labels, self.shape = 'faces', None, (10, 28, 28, 3)
    with pytest.raises(ValueError, match='faces has no labels'):
        next(Unlabelled().get_batches(5, labels=True))


def test_every_variant_trains_and_the_conditional_one_draws_the_digits_asked_for(notebook_functions, vanilla,
                                                                                 mnist_data):
    f = notebook_functions
    variant = gan_family.Variant('conditional', f['conditional_discriminator'], f['conditional_generator'],
                                 f['lsgan_loss'], f['conditional_model_loss'], conditional=True)
    gan = gan_family.train(variant, mnist_data, cpu_seconds=600, max_batches=3, log=lambda line: None)
    assert gan.batches == 3 and gan.losses.shape == (3, 2) and np.isfinite(gan.losses).all()
    z, labels = gan_family.sample_inputs(20)
    assert (labels.argmax(1) == np.arange(20) % 10).all()
    images = gan.generate(z, labels)
    assert images.shape == (20, 28, 28, 1) and np.abs(images).max() <= 1
    walk = gan_family.latent_walk(gan, 3, steps=5)
    assert walk.shape == (5, 28, 28, 1) and not np.allclose(walk[0], walk[-1])
    real = next(mnist_data.get_batches(16))
    gan = gan_family.train(vanilla, mnist_data, cpu_seconds=600, max_batches=3, probe_sets={'real': real},
                           probe_every=2, log=lambda line: None)
    assert gan.batches == 3 and gan.probes['batch'] == [2, 3] and all(0 < p < 1 for p in gan.probes['real'])


def test_train_records_a_score_along_the_way_without_probe_sets(vanilla, mnist_data):
    gan = gan_family.train(vanilla, mnist_data, cpu_seconds=600, max_batches=3, probe_every=1,
                           score=lambda trained: {'batches seen': trained.batches * 10}, log=lambda line: None)
    assert gan.probes == {'batch': [1, 2, 3], 'batches seen': [10.0, 20.0, 30.0]}


def test_the_budget_is_this_process_cpu_time(vanilla, mnist_data):
    gan = gan_family.train(vanilla, mnist_data, cpu_seconds=2.0, log=lambda line: None)
    assert 2.0 <= gan.cpu_seconds < 4.0 and gan.batches > 10


def test_the_gradient_probe_measures_both_losses_on_the_same_batches(vanilla, mnist_data):
    record = gan_family.generator_gradients(vanilla, mnist_data, batches=12, every=4)
    assert list(record['batch']) == [0, 4, 8]
    # at the start D(G(z)) is near 1/2, where both slopes are alike; the ratio follows (1 - D) / D
    ratio = record['non-saturating'] / record['saturating']
    expected = (1 - record['D(G(z))']) / record['D(G(z))']
    assert np.allclose(ratio[0], expected[0], rtol=0.3), (ratio, expected)


def test_with_a_head_start_only_the_discriminator_trains_and_it_rejects_the_fakes(vanilla, mnist_data):
    both = gan_family.generator_gradients(vanilla, mnist_data, batches=31, every=10)
    alone = gan_family.generator_gradients(vanilla, mnist_data, batches=31, every=10, head_start=31)
    assert alone['D(G(z))'][0] == both['D(G(z))'][0]  # the same start
    assert alone['D(G(z))'][-1] < both['D(G(z))'][-1] - 0.1, (alone['D(G(z))'], both['D(G(z))'])


def test_the_conditional_accuracy_is_the_classifiers_reading(mnist_folder):
    from dlnd.gan.evaluation import MnistEvaluator
    evaluator = MnistEvaluator(mnist_folder)
    test_images = np.asarray(evaluator.real[:1000])

    class Perfect:  # a generator that returns real test digits of the asked class
        variant = gan_family.Variant('real', None, None, None, conditional=True)

        def generate(self, z, asked):
            read = evaluator.classifier.probabilities(test_images).argmax(1)
            pools = {d: test_images[read == d] for d in range(10)}
            return np.stack([pools[d][k % len(pools[d])] for k, d in enumerate(asked.argmax(1))])
    scores = gan_family.evaluate(Perfect(), evaluator, count=200)
    assert scores['read as asked'] == 1.0 and scores['worst digit read as asked'] == 1.0
    assert abs(scores['rarest class of 200'] - 0.1) < 1e-9


def test_the_augmented_dcgan_trains_on_flowers_and_probes_the_held_out_ones(flowers_folder):
    from dlnd.gan.evaluation import FlowersEvaluator
    f = load_variant_functions(tf)  # with the face-generation notebook's networks, as part 4 binds them
    flowers, evaluator = helper.Dataset('flowers', flowers_folder), FlowersEvaluator(flowers_folder)
    variant = gan_family.Variant('augmented', f['discriminator'], f['generator'], f['gan_loss'],
                                 f['augmented_model_loss'])
    gan = gan_family.train(variant, flowers, cpu_seconds=600, max_batches=2, log=lambda line: None,
                           probe_sets={'held-out': evaluator.real}, probe_every=1)
    assert gan.batches == 2 and len(gan.probes['held-out']) == 2
    scores = evaluator(gan.generate(np.random.default_rng(0).uniform(-1, 1, (len(evaluator.real), 100))))
    assert list(scores) == ['SWD 28px', 'SWD 14px', 'SWD 7px'] and all(v > 0 for v in scores.values())


def test_the_gan_family_says_once_whether_it_trains_in_bfloat16(monkeypatch, capsys):
    monkeypatch.setattr(gan_family, '_precision_said', [])
    gan_family._session_config(), gan_family._session_config()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith('bfloat16 mixed precision: ')


def test_train_saves_the_generator_alone_where_the_notebook_says(vanilla, mnist_data, tmp_path):
    gan = gan_family.train(vanilla, mnist_data, cpu_seconds=600, max_batches=2, log=lambda line: None,
                           checkpoint_dir=str(tmp_path / 'saved'))
    saved = dict(tf.train.list_variables(str(tmp_path / 'saved' / 'generator')))
    with gan.graph.as_default():
        expected = {v.op.name: v.shape.as_list() for v in gan.built.generator_variables}
    assert saved == expected and all(name.startswith('generator/') and 'Adam' not in name for name in saved)


def test_the_notebook_saves_its_generators_where_the_grader_draws_from():
    import re

    from dlnd.notebook import SAVED_GENERATORS, code_cells
    named = [re.findall(r"gan_family\.Variant\('([^']+)'", cell['source']) for cell in code_cells(VARIANTS_NOTEBOOK)]
    part4, part5 = (names for names in named if len(names) > 1)  # part 4's five GANs, then part 5's two
    keys = [gan_family.Variant(name, None, None, None).key for name in part4] + \
        ['flowers-' + gan_family.Variant(name, None, None, None).key for name in part5]
    assert keys == [g.folder for g in SAVED_GENERATORS['GAN family']]
    assert {(g.z_dim, g.noise) for g in SAVED_GENERATORS['GAN family']} == {(gan_family.Z_DIM, 'uniform')}
    training = [cell['source'] for cell in code_cells(VARIANTS_NOTEBOOK) if 'gan_family.train(' in cell['source']]
    assert "checkpoint_dir=f'checkpoints/{variant.key}'" in training[0]
    assert "checkpoint_dir=f'checkpoints/flowers-{variant.key}'" in training[1]
