"""A small MNIST classifier whose features and class probabilities the MNIST metrics use.

Trained once on the real training set (about a minute on 2 CPU cores), checked on the test set,
and cached as plain NumPy weights in data/mnist_classifier.npz.

    python -m dlnd classifier [data_path]     # train (or load) and print the test accuracy
"""
import sys
import zipfile
from pathlib import Path

import numpy as np

from ..data import mnist
from ..data.dataset import to_unit_range
from ..fileio import DataError, atomic_path
from ..tf_setup import import_tensorflow

EPOCHS, BATCH, LEARNING_RATE, SEED = 4, 128, 1e-3, 0  # the rate halves each epoch
MIN_ACCURACY = 0.99
# name: shape. conv 5x5x32 -> pool -> conv 5x5x64 -> pool -> dense 128 (the features) -> dense 10
SHAPES = {'conv1': (5, 5, 1, 32), 'conv2': (5, 5, 32, 64), 'dense1': (7 * 7 * 64, 128), 'dense2': (128, 10)}


def cache_path(data_path):
    return Path(data_path) / 'mnist_classifier.npz'


def forward(tf, images, weights):
    """(features (n, 128), logits (n, 10)) for images in [-1, 1], shape (n, 28, 28, 1)."""
    def conv_pool(x, name):
        x = tf.nn.relu(tf.nn.conv2d(x, weights[name], 1, 'SAME') + weights[name + '_b'])
        return tf.nn.max_pool2d(x, 2, 2, 'SAME')
    x = conv_pool(conv_pool(images, 'conv1'), 'conv2')
    features = tf.nn.relu(tf.matmul(tf.reshape(x, (-1, 7 * 7 * 64)), weights['dense1']) + weights['dense1_b'])
    return features, tf.matmul(features, weights['dense2']) + weights['dense2_b']


def train(data_path, log=print):
    """Train on MNIST's 60,000 training digits; returns (the classifier, its test accuracy)."""
    tf = import_tensorflow()
    images = to_unit_range(mnist.load_images(data_path))
    labels = np.asarray(mnist.load_labels(data_path)).astype(np.int64)
    rng = np.random.default_rng(SEED)
    with tf.Graph().as_default():
        tf.set_random_seed(SEED)
        weights = {}
        for name, shape in SHAPES.items():
            weights[name] = tf.get_variable(name, shape, initializer=tf.glorot_uniform_initializer())
            weights[name + '_b'] = tf.get_variable(name + '_b', shape[-1:], initializer=tf.zeros_initializer())
        x = tf.placeholder(tf.float32, (None, 28, 28, 1))
        y = tf.placeholder(tf.int64, (None,))
        _, logits = forward(tf, x, weights)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        rate = tf.placeholder(tf.float32, ())
        step = tf.train.AdamOptimizer(rate).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for epoch in range(EPOCHS):
                order = rng.permutation(len(images))
                for start in range(0, len(order), BATCH):
                    batch = order[start:start + BATCH]
                    sess.run(step, {x: images[batch], y: labels[batch], rate: LEARNING_RATE / 2 ** epoch})
                log(f'MNIST classifier: epoch {epoch + 1}/{EPOCHS} done')
            values = sess.run(weights)
    classifier = MnistClassifier(values)
    accuracy = accuracy_on_test_set(classifier, data_path)
    log(f'MNIST classifier: test accuracy {accuracy:.4f}')
    return classifier, accuracy


def accuracy_on_test_set(classifier, data_path):
    """Fraction of MNIST's 10,000 test digits classified right."""
    images = to_unit_range(mnist.load_images(data_path, 'test'))
    predicted = classifier.probabilities(images).argmax(1)
    return float((predicted == np.asarray(mnist.load_labels(data_path, 'test'))).mean())


def load_or_train(data_path, log=print):
    """The cached classifier, trained first if there is none yet or if the cache is damaged."""
    path = cache_path(data_path)
    if path.is_file():
        try:
            return MnistClassifier(read_weights(path))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            log(f'{path}: unreadable ({e}); training the classifier again')
    classifier, accuracy = train(data_path, log)
    if accuracy < MIN_ACCURACY:
        raise DataError(f'the MNIST classifier reached only {accuracy:.4f} test accuracy (< {MIN_ACCURACY})')
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        np.savez(f, **classifier.weights)
    return classifier


def read_weights(path):
    """The cached weights, each checked against its expected shape (a damaged zip member fails its CRC)."""
    with np.load(path) as stored:
        weights = {k: stored[k] for k in stored.files}
    expected = {**SHAPES, **{name + '_b': shape[-1:] for name, shape in SHAPES.items()}}
    if {k: tuple(v.shape) for k, v in weights.items()} != expected:
        raise ValueError(f'weights of shapes {({k: v.shape for k, v in weights.items()})}, expected {expected}')
    return weights


class MnistClassifier:
    """Features and class probabilities of images in [-1, 1], from fixed NumPy weights."""

    def __init__(self, weights):
        self.weights = weights
        tf = import_tensorflow()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.placeholder(tf.float32, (None, 28, 28, 1))
            constants = {name: tf.constant(value) for name, value in weights.items()}
            self.features, logits = forward(tf, self.images, constants)
            self.softmax = tf.nn.softmax(logits)
            self.session = tf.Session(graph=self.graph)

    def run(self, images, batch=1000):
        """(features (n, 128), probabilities (n, 10)), as float64."""
        outputs = [self.session.run([self.features, self.softmax], {self.images: images[i:i + batch]})
                   for i in range(0, len(images), batch)]
        return tuple(np.concatenate([o[k] for o in outputs]).astype(np.float64) for k in (0, 1))

    def probabilities(self, images):
        return self.run(images)[1]


if __name__ == '__main__':
    data = sys.argv[1] if len(sys.argv) > 1 else './data'
    print(f'MNIST classifier: test accuracy {accuracy_on_test_set(load_or_train(data), data):.4f}')
