"""What a larger image costs: training time per batch of a DCGAN at 28x28 (the course's networks, which the
flowers section of gan_variants.ipynb uses), 32x32 and 64x64 (one more layer each way per doubling, the
DCGAN paper's pattern), measured side by side in one run.

    python bench/bench_image_size.py [--rounds 3] [--steps 30]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import helper  # noqa: E402
from dlnd.gan import gan_family  # noqa: E402
from dlnd.notebook import load_functions  # noqa: E402

tf = helper.import_tensorflow()
BATCH, CHANNELS = 64, 3
INIT = tf.random_normal_initializer(stddev=0.02)
# side: (generator's first size and filters, then each transposed convolution's), (discriminator's filters)
SHAPES = {32: ((4, 256), (128, 64), (32, 64, 128)), 64: ((4, 512), (256, 128, 64), (32, 64, 128, 256))}


def scaled_networks(side):
    """A DCGAN for side x side images, as the notebook's at 28x28 but starting from 4x4."""
    (start, first), g_filters, d_filters = SHAPES[side]

    def generator(z, channels, is_train=True):
        with tf.variable_scope('generator', reuse=not is_train):
            x = tf.layers.dense(z, start * start * first, kernel_initializer=INIT)
            x = tf.reshape(x, (-1, start, start, first))
            x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=is_train), 0.2)
            for filters in g_filters:
                x = tf.layers.conv2d_transpose(x, filters, 4, 2, 'same', kernel_initializer=INIT)
                x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=is_train), 0.2)
            return tf.tanh(tf.layers.conv2d_transpose(x, channels, 4, 2, 'same', kernel_initializer=INIT))

    def discriminator(images, reuse=False):
        with tf.variable_scope('discriminator', reuse=reuse):
            x = images
            for k, filters in enumerate(d_filters):
                x = tf.layers.conv2d(x, filters, 4, 2, 'same', kernel_initializer=INIT)
                x = tf.nn.leaky_relu(x if k == 0 else tf.layers.batch_normalization(x, training=True), 0.2)
            logits = tf.layers.dense(tf.layers.flatten(x), 1, kernel_initializer=INIT)
            return tf.sigmoid(logits), logits
    return discriminator, generator


def seconds_per_batch(side, steps):
    """Wall seconds per training batch (both networks, one run) at side x side."""
    notebook = load_functions(tf)
    discriminator, generator = (notebook['discriminator'], notebook['generator']) if side == 28 else \
        scaled_networks(side)
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, (None, side, side, CHANNELS))
        input_z = tf.placeholder(tf.float32, (None, gan_family.Z_DIM))
        fake = generator(input_z, CHANNELS, is_train=True)
        _, real_logits = discriminator(input_real)
        _, fake_logits = discriminator(fake, reuse=True)
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits
        d_loss = tf.reduce_mean(cross_entropy(logits=real_logits, labels=tf.ones_like(real_logits) * 0.9)) + \
            tf.reduce_mean(cross_entropy(logits=fake_logits, labels=tf.zeros_like(fake_logits)))
        g_loss = tf.reduce_mean(cross_entropy(logits=fake_logits, labels=tf.ones_like(fake_logits)))
        train_ops = gan_family.optimizers(d_loss, g_loss)
        rng = np.random.default_rng(0)
        feed = {input_real: rng.uniform(-1, 1, (BATCH, side, side, CHANNELS)),
                input_z: rng.uniform(-1, 1, (BATCH, gan_family.Z_DIM))}
        with tf.Session(config=helper.session_config(log=lambda line: None)) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train_ops, feed)
            start = time.perf_counter()
            for _ in range(steps):
                sess.run(train_ops, feed)
            return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--steps', type=int, default=30)
    args = parser.parse_args()
    times = {side: [] for side in (28, 32, 64)}
    for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits every size alike
        for side in times:
            times[side].append(seconds_per_batch(side, args.steps))
    base = np.median(times[28])
    print(f'batch {BATCH}, {CHANNELS} channels, median of {args.rounds} rounds of {args.steps} batches')
    for side, values in times.items():
        print(f'{side}x{side}: {np.median(values) * 1000:7.1f} ms a batch   {np.median(values) / base:5.2f}x 28x28')


if __name__ == '__main__':
    main()
