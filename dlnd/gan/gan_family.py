"""Train the GAN family of gan_variants.ipynb side by side: one builder for every variant (fully connected
or convolutional networks, cross-entropy or least-squares loss, with or without labels), trained under one
CPU-time budget with the main notebook's optimizer settings and scored with its metrics.

    variant = Variant('vanilla, cross-entropy', fc_discriminator, fc_generator, gan_loss)
    gan = train(variant, helper.Dataset('mnist'), cpu_seconds=300)
    scores = evaluate(gan, MnistEvaluator('data'))
    conditional = Variant('conditional', conditional_discriminator, conditional_generator, gan_loss,
                          conditional_model_loss, conditional=True)
"""
import dataclasses
import os
import re
import time
from typing import Callable, Optional

import numpy as np

from ..data.dataset import one_hot
from ..tf_setup import import_tensorflow, session_config

tf = import_tensorflow()

# The main notebook's settings (dlnd_face_generation.ipynb, "Settings for the runs").
BATCH_SIZE, Z_DIM, LEARNING_RATE, BETA1, GENERATOR_LR_FACTOR = 64, 100, 2e-4, 0.5, 5
SCORE_SAMPLES = 10_000  # samples for the class shares and the conditional accuracy (1,000 per digit)


@dataclasses.dataclass
class Variant:
    """A GAN: its two networks, its loss, and how they are put together: model_loss(input_real, input_z,
    [input_labels,] out_channel_dim, loss) -> (d_loss, g_loss), by default the main notebook's model_loss.
    A conditional variant's networks and model_loss also take the one-hot labels."""
    name: str
    discriminator: Callable
    generator: Callable
    loss: Callable
    model_loss: Optional[Callable] = None
    conditional: bool = False

    @property
    def key(self):
        """The name in lower case, words joined by '-' ('DCGAN, least squares': 'dcgan-least-squares'): the
        folder its generator is saved in."""
        return re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')


def compose(discriminator, generator, loss, input_real, input_z, out_channel_dim):
    """The main notebook's model_loss, with the networks and the loss function as arguments; returns
    ((d_loss, g_loss), the discriminator's scores of the fakes)."""
    fake = generator(input_z, out_channel_dim, is_train=True)
    _, real_scores = discriminator(input_real, reuse=False)
    _, fake_scores = discriminator(fake, reuse=True)
    return loss(real_scores, fake_scores), fake_scores


def optimizers(d_loss, g_loss):
    """Adam for each network over its own variables (the generator at GENERATOR_LR_FACTOR times the rate),
    with the batch-norm updates."""
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_opt = tf.train.AdamOptimizer(LEARNING_RATE, BETA1).minimize(
            d_loss, var_list=tf.trainable_variables('discriminator'))
        g_opt = tf.train.AdamOptimizer(LEARNING_RATE * GENERATOR_LR_FACTOR, BETA1).minimize(
            g_loss, var_list=tf.trainable_variables('generator'))
    return d_opt, g_opt


@dataclasses.dataclass
class Graph:
    input_real: tf.Tensor
    input_z: tf.Tensor
    input_labels: Optional[tf.Tensor]
    d_loss: tf.Tensor
    g_loss: tf.Tensor
    train_ops: tuple
    sampler: tf.Tensor
    generator_variables: list  # what a checkpoint of the generator holds: its variables, not the optimizer's
    probe: Optional[tf.Tensor] = None  # real images in, the discriminator's mean probability out
    probe_images: Optional[tf.Tensor] = None


def build(variant, channels, classes=None):
    """The variant's training graph in the default graph: placeholders, losses, optimizers, a sampler, and
    (for an unconditional variant) a probe of the discriminator's mean output on any real images."""
    input_real = tf.placeholder(tf.float32, (None, 28, 28, channels), name='input_real')
    input_z = tf.placeholder(tf.float32, (None, Z_DIM), name='input_z')
    if variant.conditional:
        input_labels = tf.placeholder(tf.float32, (None, classes), name='input_labels')
        d_loss, g_loss = variant.model_loss(input_real, input_z, input_labels, channels, variant.loss)
        saved = tf.global_variables('generator')
        sampler = variant.generator(input_z, input_labels, channels, is_train=False)
        return Graph(input_real, input_z, input_labels, d_loss, g_loss, optimizers(d_loss, g_loss), sampler, saved)
    if variant.model_loss is None:
        (d_loss, g_loss), _ = compose(variant.discriminator, variant.generator, variant.loss, input_real, input_z,
                                      channels)
    else:
        d_loss, g_loss = variant.model_loss(input_real, input_z, channels, variant.loss)
    saved = tf.global_variables('generator')
    train_ops = optimizers(d_loss, g_loss)  # before the probe, whose batch-norm updates training must not run
    sampler = variant.generator(input_z, channels, is_train=False)
    probe_images = tf.placeholder(tf.float32, (None, 28, 28, channels), name='probe_images')
    probe = tf.reduce_mean(variant.discriminator(probe_images, reuse=True)[0])
    return Graph(input_real, input_z, None, d_loss, g_loss, train_ops, sampler, saved, probe, probe_images)


class TrainedGan:
    """A trained variant: its graph and open session, the batches and CPU seconds it took, its losses, and the
    discriminator's mean output on each probe set of real images, every probe_every batches."""

    def __init__(self, variant, graph, built, session):
        self.variant, self.graph, self.built, self.session = variant, graph, built, session
        self.batches, self.cpu_seconds, self.losses, self.probes = 0, 0.0, [], {'batch': []}

    def generate(self, z, labels=None, batch=1000):
        """Images (n, 28, 28, C) in [-1, 1] for the noise z (and one-hot labels, for a conditional variant)."""
        images = []
        for start in range(0, len(z), batch):
            feed = {self.built.input_z: z[start:start + batch]}
            if self.variant.conditional:
                feed[self.built.input_labels] = labels[start:start + batch]
            images.append(self.session.run(self.built.sampler, feed))
        return np.concatenate(images)

    def probe(self, probe_sets, score=None):
        """Record the discriminator's mean output on each set of real images ({name: images in [-1, 1]}),
        and score(self)'s values ({name: number}) where given."""
        values = {name: self.session.run(self.built.probe, {self.built.probe_images: images})
                  for name, images in (probe_sets or {}).items()}
        values.update(score(self) if score else {})
        self.probes['batch'].append(self.batches)
        for name, value in values.items():
            self.probes.setdefault(name, []).append(float(value))


def endless_batches(dataset, labels):
    while True:
        yield from dataset.get_batches(BATCH_SIZE, labels=labels)


def feed_for(built, batch, rng):
    images, labels = batch if built.input_labels is not None else (batch, None)
    feed = {built.input_real: images, built.input_z: rng.uniform(-1, 1, (len(images), Z_DIM))}
    if labels is not None:
        feed[built.input_labels] = labels
    return feed


_precision_said = []


def _session_config():
    """helper.session_config(), whose line on bfloat16 is printed for the process's first session only."""
    config = session_config(log=lambda line: None if _precision_said else print(line))
    _precision_said.append(True)
    return config


def train(variant, dataset, cpu_seconds, seed=0, max_batches=None, report_every=1000, probe_sets=None,
          probe_every=250, score=None, log=print, checkpoint_dir=None):
    """Train a variant on a data set for `cpu_seconds` of this process's CPU time (or max_batches), both
    networks updated in one run per batch as the main notebook does. probe_sets: {name: real images} on which
    the discriminator's mean output is recorded every probe_every batches, with score(gan)'s values where given
    (neither counted in the budget). checkpoint_dir: where the trained generator is saved, for the grader to
    draw from."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        built = build(variant, dataset.shape[3], dataset.classes)
        gan = TrainedGan(variant, graph, built, tf.Session(graph=graph, config=_session_config()))
        gan.session.run(tf.global_variables_initializer())
    rng = np.random.default_rng(seed)
    probing = bool(probe_sets) or score is not None
    start = time.process_time()
    for batch in endless_batches(dataset, variant.conditional):
        *_, d_value, g_value = gan.session.run([*built.train_ops, built.d_loss, built.g_loss],
                                               feed_for(built, batch, rng))
        gan.losses.append((d_value, g_value))
        gan.batches, gan.cpu_seconds = gan.batches + 1, time.process_time() - start
        if not np.isfinite([d_value, g_value]).all():
            raise FloatingPointError(f'{variant.name}: the losses became {d_value}, {g_value} at batch {gan.batches}')
        if gan.batches % report_every == 0:
            log(f'{variant.name}: batch {gan.batches}, {gan.cpu_seconds:.0f} of {cpu_seconds} CPU s, '
                f'd_loss {d_value:.3f}, g_loss {g_value:.3f}')
        if gan.cpu_seconds >= cpu_seconds or gan.batches == max_batches:
            break
        if probing and gan.batches % probe_every == 0:
            gan.probe(probe_sets, score)
            start = time.process_time() - gan.cpu_seconds  # probing is not training time
    if probing:
        gan.probe(probe_sets, score)
    log(f'{variant.name}: {gan.batches} batches in {gan.cpu_seconds:.0f} CPU seconds')
    gan.losses = np.array(gan.losses)
    if checkpoint_dir:
        save_generator(gan, checkpoint_dir)
    return gan


def save_generator(gan, checkpoint_dir):
    """The generator's variables (with its batch-norm statistics), as checkpoint_dir/generator."""
    os.makedirs(checkpoint_dir, exist_ok=True)
    with gan.graph.as_default():
        saver = tf.train.Saver(gan.built.generator_variables)
    saver.save(gan.session, os.path.join(checkpoint_dir, 'generator'), write_meta_graph=False)


def sample_inputs(count, classes=10, seed=1234):
    """Noise for `count` samples and, in turn, every class's one-hot label (so any 1,000 in a row are balanced)."""
    z = np.random.default_rng(seed).uniform(-1, 1, (count, Z_DIM))
    return z, one_hot(np.arange(count) % classes, classes)


def evaluate(gan, evaluator, count=SCORE_SAMPLES):
    """The main notebook's MNIST metrics (first 1,000 samples), the rarest class's share over `count`
    samples, and for a conditional variant the share read as the digit asked for, overall and per digit."""
    z, labels = sample_inputs(count)
    images = gan.generate(z, labels)
    scores = {name: value for name, value in evaluator(images).items() if np.isscalar(value)}
    shares = evaluator.class_shares(images)
    scores.update({f'rarest class of {count:,}': float(shares.min())})
    if gan.variant.conditional:
        read = evaluator.classifier.probabilities(images).argmax(1)
        asked = labels.argmax(1)
        per_digit = [float(np.mean(read[asked == d] == d)) for d in range(labels.shape[1])]
        scores.update({'read as asked': float(np.mean(read == asked)), 'worst digit read as asked': min(per_digit),
                       'per digit': per_digit})
    return scores


def generator_gradients(variant, dataset, batches, every=5, seed=0, head_start=0):
    """Train an unconditional variant for `batches` batches, the discriminator alone for the first `head_start`
    (as when it learns faster than the generator early on); every `every` batches, on the same batch, the norm
    of the generator's gradient under the non-saturating loss -log D(G(z)) and under the saturating (minimax)
    loss log(1 - D(G(z))), and the mean D(G(z)). Returns {'batch', 'non-saturating', 'saturating', 'D(G(z))'}."""
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        input_real = tf.placeholder(tf.float32, (None, 28, 28, dataset.shape[3]))
        input_z = tf.placeholder(tf.float32, (None, Z_DIM))
        (d_loss, g_loss), fake = compose(variant.discriminator, variant.generator, variant.loss, input_real, input_z,
                                         dataset.shape[3])
        train_ops = optimizers(d_loss, g_loss)
        g_vars = tf.trainable_variables('generator')
        non_saturating = tf.reduce_mean(tf.nn.softplus(-fake))  # -log sigmoid(f)
        saturating = -tf.reduce_mean(tf.nn.softplus(fake))  # log(1 - sigmoid(f))
        norms = [tf.global_norm(tf.gradients(loss, g_vars)) for loss in (non_saturating, saturating)]
        probed = [*norms, tf.reduce_mean(tf.sigmoid(fake))]
        record = {'batch': [], 'non-saturating': [], 'saturating': [], 'D(G(z))': []}
        rng = np.random.default_rng(seed)
        with tf.Session(config=_session_config()) as sess:
            sess.run(tf.global_variables_initializer())
            for done, images in zip(range(batches), endless_batches(dataset, False)):
                feed = {input_real: images, input_z: rng.uniform(-1, 1, (len(images), Z_DIM))}
                if done % every == 0:
                    values = sess.run(probed, feed)
                    for key, value in zip(('non-saturating', 'saturating', 'D(G(z))'), values):
                        record[key].append(float(value))
                    record['batch'].append(done)
                sess.run(train_ops[0] if done < head_start else train_ops, feed)
    return {key: np.array(values) for key, values in record.items()}


def latent_walk(gan, digit, steps=10, seed=7):
    """Images along the straight line between two noise vectors, for one digit of a conditional variant."""
    start, end = np.random.default_rng(seed).uniform(-1, 1, (2, Z_DIM))
    weights = np.linspace(0, 1, steps)[:, None]
    return gan.generate((1 - weights) * start + weights * end, one_hot(np.full(steps, digit), 10))


TABLE_COLUMNS = {'Frechet distance': '{:.2f}', 'classifier score': '{:.2f}', 'rarest class of 10,000': '{:.1%}',
                 'read as asked': '{:.1%}', 'worst digit read as asked': '{:.1%}'}


def print_table(results):
    """One row per variant ({name: (trained gan, scores)}): batches, CPU seconds and its scores."""
    widths = [len(column) + 2 for column in TABLE_COLUMNS]
    print(f'{"variant":32}{"batches":>9}{"CPU s":>7}' + ''.join(f'{c:>{w}}' for c, w in zip(TABLE_COLUMNS, widths)))
    for name, (gan, scores) in results.items():
        cells = [form.format(scores[column]) if column in scores else '' for column, form in TABLE_COLUMNS.items()]
        print(f'{name:32}{gan.batches:9,}{gan.cpu_seconds:7.0f}' + ''.join(f'{c:>{w}}' for c, w in zip(cells, widths)))
