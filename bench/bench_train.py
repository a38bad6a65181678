"""Training throughput of the notebook's GAN, side by side with a TensorFlow 2 / Keras 3 reference.

    python bench/bench_train.py [--steps 40] [--rounds 3] [--channels 1]

Both train the same layer shapes (the notebook's) at batch 64 on the same machine in this one run,
each in its own process (the notebook needs graph mode and Keras 2; the reference eager Keras 3),
alternating rounds; the medians are compared. Also printed: the FLOPs one training step executes
(counted op by op from the notebook's graph), the measured dense matmul peak of this machine, and the
share of that peak training reaches.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BATCH, Z_DIM = 64, 100


def notebook_rate(steps, channels, one_run=False):
    """Images/s, FLOPs per step and matmul peak (GFLOP/s) in graph mode with the notebook's functions.

    one_run: instead of train()'s separate runs, update D and G together in one sess.run from one
    forward pass, as the reference does (resource variables, so G's gradient reads D's weights
    from before D's update). Measures what the graph code costs apart from the update schedule.
    """
    sys.path.insert(0, str(ROOT))
    import helper
    from dlnd.notebook import load_functions, notebook_settings
    from gan_settings import generator_steps
    tf = helper.import_tensorflow()
    functions, settings = load_functions(tf), notebook_settings()
    with tf.Graph().as_default() as graph:
        tf.get_variable_scope().set_use_resource(one_run)
        input_real, input_z, lr = functions['model_inputs'](28, 28, channels, Z_DIM)
        d_loss, g_loss = functions['model_loss'](input_real, input_z, channels)
        d_opt, g_opt = functions['model_opt'](d_loss, g_loss, lr, settings['beta1'])
        train_ops = (d_opt,) + (g_opt,) * generator_steps(functions['train'])
        flops, combined_flops = step_flops(tf, graph, train_ops,
                                           {input_real: (BATCH, 28, 28, channels), input_z: (BATCH, Z_DIM)})
        if one_run:
            train_ops, flops = ([d_opt, g_opt],), combined_flops
        rng = np.random.default_rng(0)
        feed = {input_real: rng.uniform(-1, 1, (BATCH, 28, 28, channels)), input_z: rng.uniform(-1, 1, (BATCH, Z_DIM)),
                lr: settings['learning_rate']}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(5):  # warm-up
                for op in train_ops:
                    sess.run(op, feed)
            start = time.perf_counter()
            for _ in range(steps):
                for op in train_ops:  # as train() does: one discriminator step, then the generator steps
                    sess.run(op, feed)
            elapsed = time.perf_counter() - start
    return {'images_per_s': steps * BATCH / elapsed, 'step_flops': flops, 'combined_step_flops': combined_flops,
            'peak_gflops': matmul_peak(tf)}


def step_flops(tf, graph, train_ops, shapes):
    """(FLOPs the notebook's runs execute, each sess.run recomputing its own forward pass;
    FLOPs of one combined update of both networks, each op once, as the Keras reference does)."""
    with tf.Graph().as_default() as fixed:  # the profiler needs full shapes: rebuild with the batch size set
        tf.import_graph_def(graph.as_graph_def(add_shapes=True), input_map={
            t.name: tf.placeholder(t.dtype, shape) for t, shape in shapes.items()}, name='')
        options = tf.profiler.ProfileOptionBuilder.float_operation()
        options['output'] = 'none'
        per_op = {node.name: node.total_float_ops for node in tf.profiler.profile(fixed, options=options).children}
        total, union = 0, set()
        for op in train_ops:
            needed, frontier = set(), [fixed.get_operation_by_name(op.name)]
            while frontier:
                node = frontier.pop()
                if node.name not in needed:
                    needed.add(node.name)
                    frontier += [t.op for t in node.inputs] + list(node.control_inputs)
            total += sum(per_op.get(name, 0) for name in needed)
            union |= needed
    return total, sum(per_op.get(name, 0) for name in union)


def matmul_peak(tf, size=2048, repeats=20):
    """GFLOP/s of a float32 size x size matmul, the machine's dense peak as TensorFlow reaches it."""
    with tf.Graph().as_default(), tf.Session() as sess:
        a = tf.Variable(tf.random_normal((size, size)))
        product = tf.reduce_sum(tf.matmul(a, a))
        sess.run(tf.global_variables_initializer())
        sess.run(product)
        start = time.perf_counter()
        for _ in range(repeats):
            sess.run(product)
        return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def keras_rate(steps, channels):
    """Images/s of the TensorFlow DCGAN tutorial's way: Keras 3 models and one tf.function train step."""
    import keras
    import tensorflow as tf
    sys.path.insert(0, str(ROOT))
    from dlnd.notebook import notebook_settings
    kernel = notebook_settings('KERNEL_SIZE =').get('KERNEL_SIZE', 5)  # the notebook's layer shapes
    layers = keras.layers
    init = keras.initializers.RandomNormal(stddev=0.02)
    def conv(filters, transpose=False, **options):
        layer = layers.Conv2DTranspose if transpose else layers.Conv2D
        return layer(filters, kernel, 2, 'same', kernel_initializer=init, **options)

    generator = keras.Sequential([
        keras.Input((Z_DIM,)), layers.Dense(7 * 7 * 256, kernel_initializer=init), layers.Reshape((7, 7, 256)),
        layers.BatchNormalization(), layers.LeakyReLU(0.2),
        conv(128, transpose=True), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        conv(channels, transpose=True, activation='tanh')])
    discriminator = keras.Sequential([
        keras.Input((28, 28, channels)), conv(64), layers.LeakyReLU(0.2),
        conv(128), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        conv(256), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, kernel_initializer=init)])
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def train_step(images, noise):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise, training=True)
            real_logits, fake_logits = discriminator(images, training=True), discriminator(fake, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_logits), fake_logits)
            d_loss = (cross_entropy(tf.ones_like(real_logits) * 0.9, real_logits) +
                      cross_entropy(tf.zeros_like(fake_logits), fake_logits))
        for tape, loss, model, optimizer in ((g_tape, g_loss, generator, g_opt),
                                             (d_tape, d_loss, discriminator, d_opt)):
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (BATCH, 28, 28, channels)), tf.float32)
    noise = tf.constant(rng.uniform(-1, 1, (BATCH, Z_DIM)), tf.float32)
    for _ in range(5):
        train_step(images, noise)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(images, noise)
    return {'images_per_s': steps * BATCH / (time.perf_counter() - start)}


def run_variant(variant, steps, channels):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    env.pop('TF_USE_LEGACY_KERAS', None)
    out = subprocess.run([sys.executable, __file__, '--variant', variant, '--steps', str(steps),
                          '--channels', str(channels)], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--channels', type=int, default=1, help='1 for MNIST, 3 for CelebA')
    parser.add_argument('--variant', choices=('notebook', 'one-run', 'keras'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        if args.variant == 'keras':
            print(json.dumps(keras_rate(args.steps, args.channels)))
        else:
            print(json.dumps(notebook_rate(args.steps, args.channels, one_run=args.variant == 'one-run')))
        return
    ours, one_run, reference = [], [], []
    for _ in range(args.rounds):
        ours.append(run_variant('notebook', args.steps, args.channels))
        one_run.append(run_variant('one-run', args.steps, args.channels))
        reference.append(run_variant('keras', args.steps, args.channels))
    mine = np.median([r['images_per_s'] for r in ours])
    together = np.median([r['images_per_s'] for r in one_run])
    theirs = np.median([r['images_per_s'] for r in reference])
    flops, peak = ours[-1]['step_flops'], np.median([r['peak_gflops'] for r in ours])
    combined = ours[-1]['combined_step_flops']
    achieved, reference_achieved = mine / BATCH * flops / 1e9, theirs / BATCH * combined / 1e9
    print(f'batch {BATCH}, {args.channels} channel(s), {os.cpu_count()} CPU cores, median of {args.rounds} rounds')
    print(f'notebook (tf.compat.v1 graph):      {mine:8.0f} images/s')
    print(f'reference (Keras 3 + tf.function):  {theirs:8.0f} images/s')
    verdict = 'met' if mine >= theirs else 'MISSED'
    print(f'ratio notebook / reference:         {mine / theirs:8.2f}x   (target >= 1.0: {verdict})')
    print(f'same graph, D and G in one run:     {together:8.0f} images/s  ({together / theirs:.2f}x the reference)')
    print(f'FLOPs per notebook batch:           {flops / 1e9:8.2f} GFLOP  (1 D + generator steps, each its own run)')
    print(f'FLOPs per combined D+G update:      {combined / 1e9:8.2f} GFLOP  (the reference: each op once)')
    print(f'dense matmul peak (2048^2 float32): {peak:8.1f} GFLOP/s')
    print(f'notebook achieved:                  {achieved:8.1f} GFLOP/s  ({achieved / peak:.1%} of peak)')
    share = reference_achieved / peak
    print(f'reference achieved (estimate):      {reference_achieved:8.1f} GFLOP/s  ({share:.1%} of peak)')


if __name__ == '__main__':
    main()
