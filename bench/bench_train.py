"""Training throughput of the notebook's GAN, side by side with a TensorFlow 2 / Keras 3 reference.

    python bench/bench_train.py [--steps 40] [--rounds 3] [--channels 1] [--bf16] [--primitives]

Both train the same layer shapes (the notebook's, read from its graph) at batch 64 on the same machine
in this one run, each in its own process (the notebook needs graph mode and Keras 2; the reference
eager Keras 3), alternating rounds; the medians are compared. Also measured: the notebook with grappler's
remapper on (helper.session_config and every session's default turn it off), with oneDNN off (TensorFlow's
default on CPUs without AVX-512, which helper turns on), and, where the CPU computes
bfloat16 in hardware (AMX or AVX-512 bf16; --bf16 measures the slow emulation elsewhere), the notebook with
bfloat16 mixed precision (helper.session_config with DLND_MIXED_PRECISION=1) and the reference with Keras's
mixed_bfloat16 policy. Printed with them: the FLOPs one training step executes (counted op by op from the
notebook's graph), the dense matmul peaks of this machine in float32 and bfloat16, the share of the
float32 peak training reaches, and the goals: the notebook at least 1.15x the reference in float32, and at least
1.5x the float32 reference in bfloat16 where the CPU computes it. --primitives adds where a step's time goes:
oneDNN's own timing of each kernel (ONEDNN_VERBOSE), in float32 and bfloat16 side by side.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BATCH, Z_DIM = 64, 100
GOALS = {'notebook': ('float32', 1.15), 'notebook, bfloat16': ('bfloat16', 1.5)}  # against the float32 reference
TIMED_STEPS = 'timed steps'  # a profiled run prints it before and after them: only their kernels count


def notebook_rate(steps, channels, remapper_on=False, mark_timed_steps=lambda: None):
    """Images/s, FLOPs per step, matmul peak (GFLOP/s) and layer widths, in graph mode with the
    notebook's functions, updated as train() does: both optimizers in one sess.run, in a session with
    helper.session_config() (or, remapper_on, with grappler's remapper on, which tries and fails to fuse).
    mark_timed_steps is called just before the timed steps and just after them."""
    sys.path.insert(0, str(ROOT))
    import helper
    from dlnd.notebook import load_functions, notebook_settings
    tf = helper.import_tensorflow()
    functions, settings = load_functions(tf), notebook_settings()
    with tf.Graph().as_default() as graph:
        input_real, input_z, lr = functions['model_inputs'](28, 28, channels, Z_DIM)
        d_loss, g_loss = functions['model_loss'](input_real, input_z, channels)
        train_op = functions['model_opt'](d_loss, g_loss, lr, settings['beta1'])
        flops = step_flops(tf, graph, train_op, {input_real: (BATCH, 28, 28, channels), input_z: (BATCH, Z_DIM)})
        rng = np.random.default_rng(0)
        feed = {input_real: rng.uniform(-1, 1, (BATCH, 28, 28, channels)), input_z: rng.uniform(-1, 1, (BATCH, Z_DIM)),
                lr: settings['learning_rate']}
        config = helper.session_config(log=lambda line: None)
        if remapper_on:
            from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig
            config.graph_options.rewrite_options.remapping = RewriterConfig.ON
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(5):  # warm-up
                sess.run(train_op, feed)
            mark_timed_steps()
            start = time.perf_counter()
            for _ in range(steps):
                sess.run(train_op, feed)
            elapsed = time.perf_counter() - start
            mark_timed_steps()
        shapes = layer_widths(tf)
    return {'images_per_s': steps * BATCH / elapsed, 'step_flops': flops, 'peak_gflops': matmul_peak(tf),
            'bf16_peak_gflops': matmul_peak(tf, tf.bfloat16), **shapes}


def layer_widths(tf):
    """The notebook's filter counts and kernel size, read from its variables, for the reference to copy."""
    d_kernels = [v.shape.as_list() for v in tf.trainable_variables('discriminator') if v.name.endswith('kernel:0')]
    g_kernels = [v.shape.as_list() for v in tf.trainable_variables('generator') if v.name.endswith('kernel:0')]
    return {'d_filters': [k[3] for k in d_kernels if len(k) == 4],
            'g_filters': [g_kernels[0][1] // 49] + [k[2] for k in g_kernels[1:-1]],  # dense to 7x7xF, then transposed
            'kernel': d_kernels[0][0]}


def step_flops(tf, graph, train_op, shapes):
    """FLOPs of one run of train_op, counted op by op from the graph with the batch size filled in."""
    with tf.Graph().as_default() as fixed:  # the profiler needs full shapes: rebuild with the batch size set
        tf.import_graph_def(graph.as_graph_def(add_shapes=True), input_map={
            t.name: tf.placeholder(t.dtype, shape) for t, shape in shapes.items()}, name='')
        options = tf.profiler.ProfileOptionBuilder.float_operation()
        options['output'] = 'none'
        per_op = {node.name: node.total_float_ops for node in tf.profiler.profile(fixed, options=options).children}
        needed, frontier = set(), [fixed.get_operation_by_name(op.name) for op in train_op]
        while frontier:
            node = frontier.pop()
            if node.name not in needed:
                needed.add(node.name)
                frontier += [t.op for t in node.inputs] + list(node.control_inputs)
    return sum(per_op.get(name, 0) for name in needed)


def matmul_peak(tf, dtype=None, size=2048, repeats=20):
    """GFLOP/s of a size x size matmul (float32, or `dtype`), the machine's dense peak as TensorFlow reaches it."""
    with tf.Graph().as_default(), tf.Session() as sess:
        a = tf.Variable(tf.random_normal((size, size)))
        product = tf.matmul(tf.cast(a, dtype), tf.cast(a, dtype)) if dtype else tf.matmul(a, a)
        total = tf.reduce_sum(tf.cast(product, tf.float32))
        sess.run(tf.global_variables_initializer())
        sess.run(total)
        start = time.perf_counter()
        for _ in range(repeats):
            sess.run(total)
        return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def keras_rate(steps, channels, widths, policy=None):
    """Images/s of the TensorFlow DCGAN tutorial's way: Keras 3 models and one tf.function train step,
    with the notebook's layer widths (widths: layer_widths() of the notebook's graph), under a Keras dtype
    policy ('mixed_bfloat16') if given."""
    import keras
    import tensorflow as tf
    if policy:
        keras.mixed_precision.set_global_policy(policy)
    layers = keras.layers
    init = keras.initializers.RandomNormal(stddev=0.02)

    def conv(filters, transpose=False, **options):
        layer = layers.Conv2DTranspose if transpose else layers.Conv2D
        return layer(filters, widths['kernel'], 2, 'same', kernel_initializer=init, **options)

    first, *others = widths['g_filters']
    generator = keras.Sequential([
        keras.Input((Z_DIM,)), layers.Dense(7 * 7 * first, kernel_initializer=init), layers.Reshape((7, 7, first)),
        layers.BatchNormalization(), layers.LeakyReLU(0.2),
        *[block for filters in others
          for block in (conv(filters, transpose=True), layers.BatchNormalization(), layers.LeakyReLU(0.2))],
        conv(channels, transpose=True, activation='tanh')])
    first, *others = widths['d_filters']
    discriminator = keras.Sequential([
        keras.Input((28, 28, channels)), conv(first), layers.LeakyReLU(0.2),
        *[block for filters in others for block in (conv(filters), layers.BatchNormalization(), layers.LeakyReLU(0.2))],
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


FLOAT32 = {'DLND_MIXED_PRECISION': '0'}  # the float32 rows, whatever the default is on this CPU
VARIANTS = {  # name: (the environment it runs in, whether it is the reference, its extra options)
    'notebook': (FLOAT32, False, []),
    'notebook, remapper on': (FLOAT32, False, ['--remapper-on']),
    'notebook, oneDNN off': ({'TF_ENABLE_ONEDNN_OPTS': '0', **FLOAT32}, False, []),
    'notebook, bfloat16': ({'DLND_MIXED_PRECISION': '1'}, False, []),
    'reference': ({}, True, []),
    'reference, mixed_bfloat16': ({}, True, ['--policy', 'mixed_bfloat16']),
}


def run_variant(name, steps, channels, widths):
    """One variant's rates, in its own fresh process."""
    return rates_printed(variant_output(name, steps, channels, widths))


def rates_printed(output):
    """The rates a variant's process printed, its last line."""
    return json.loads(output.strip().splitlines()[-1])


def variant_output(name, steps, channels, widths, profiled=False):
    """What one variant's own fresh process printed: its rates last, and before them, if profiled, what oneDNN
    printed of each kernel it ran."""
    extra, reference, options = VARIANTS[name]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', **extra)
    env.pop('TF_USE_LEGACY_KERAS', None)
    options = (['--reference', json.dumps(widths)] if reference else []) + options
    if profiled:
        env['ONEDNN_VERBOSE'], options = '1', options + ['--profiled']
    return subprocess.run([sys.executable, __file__, '--steps', str(steps), '--channels', str(channels), '--run',
                           *options], env=env, capture_output=True, text=True, check=True).stdout


def kernel_ms(verbose_output, steps):
    """ms a step of each oneDNN kernel, keyed (primitive, direction, problem) with its implementation, from the
    ONEDNN_VERBOSE lines of the timed steps. Kernels that run at the same time each count in full."""
    totals, implementations = Counter(), {}
    for line in verbose_output.split(TIMED_STEPS)[1].splitlines():
        fields = line.split(',')
        if fields[0] != 'onednn_verbose' or 'exec' not in fields or 'graph' in fields:
            continue
        at = fields.index('exec')  # then: engine, primitive, implementation, direction, ..., problem, ms
        key = (fields[at + 2], fields[at + 4], fields[-2])
        totals[key] += float(fields[-1]) / steps
        implementations[key] = fields[at + 3]
    return totals, implementations


def print_kernel_table(steps, channels, with_bfloat16, rows=14):
    """Where the notebook's step spends its time, kernel by kernel, in float32 and (with_bfloat16) bfloat16."""
    names = ['notebook'] + (['notebook, bfloat16'] if with_bfloat16 else [])
    step_ms, kernels = {}, {}
    for name in names:
        output = variant_output(name, steps, channels, None, profiled=True)
        step_ms[name] = BATCH / rates_printed(output)['images_per_s'] * 1000
        kernels[name] = kernel_ms(output, steps)
    print('\nwhere a step goes, by oneDNN kernel: ms a step (kernels running at once each count in full), '
          'and the implementation')
    print(f'{"":74}' + ''.join(f'{"float32" if n == "notebook" else "bfloat16":>42}' for n in names))
    for key, _ in kernels['notebook'][0].most_common(rows):
        primitive, direction, problem = key
        shape = problem.split('_iw')[0].replace('dh0', '')  # the images are square: the width repeats the height
        print(f'{primitive + " " + direction:38}{shape:36}' + ''.join(
            f'{kernels[n][0][key]:9.2f}  {kernels[n][1].get(key, "-"):>33}' for n in names))
    for label, ms in (('all oneDNN kernels', {n: sum(kernels[n][0].values()) for n in names}),
                      ('the step, wall clock', step_ms)):
        print(f'{label:74}' + ''.join(f'{ms[n]:9.2f}{"":33}' for n in names))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--channels', type=int, default=1, help='1 for MNIST, 3 for CelebA')
    parser.add_argument('--bf16', action='store_true', help='measure bfloat16 even where the CPU only emulates it')
    parser.add_argument('--primitives', action='store_true',
                        help="also print oneDNN's timing of each kernel of the notebook's step")
    parser.add_argument('--run', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--profiled', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--reference', help=argparse.SUPPRESS)
    parser.add_argument('--policy', help=argparse.SUPPRESS)
    parser.add_argument('--remapper-on', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        rates = keras_rate(args.steps, args.channels, json.loads(args.reference), args.policy) if args.reference \
            else notebook_rate(args.steps, args.channels, remapper_on=args.remapper_on,
                               mark_timed_steps=(lambda: print(TIMED_STEPS, flush=True)) if args.profiled
                               else (lambda: None))
        print(json.dumps(rates))
        return
    sys.path.insert(0, str(ROOT))
    from dlnd.tf_setup import cpu_class, cpu_has_bfloat16
    names = [n for n in VARIANTS if 'bfloat16' not in n or args.bf16 or cpu_has_bfloat16()]
    runs = {name: [] for name in names}
    for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits every variant alike
        for name in names:
            runs[name].append(run_variant(name, args.steps, args.channels, runs['notebook'][-1] if runs['notebook']
                                          else None))
    rate = {name: np.median([r['images_per_s'] for r in found]) for name, found in runs.items()}
    ours = runs['notebook'][-1]
    flops, peak = ours['step_flops'], np.median([r['peak_gflops'] for r in runs['notebook']])
    print(f'batch {BATCH}, {args.channels} channel(s), {os.cpu_count()} CPU cores, median of {args.rounds} rounds; '
          f'D {ours["d_filters"]}, G {ours["g_filters"]}, {ours["kernel"]}x{ours["kernel"]} kernels; '
          f'bfloat16 in hardware: {"yes" if cpu_has_bfloat16() else "no"}; CPU class: {cpu_class()}')
    for name in names:
        print(f'{name + ":":40}{rate[name]:8.0f} images/s   {rate[name] / rate["reference"]:5.2f}x the reference')
    for name, (precision, goal) in GOALS.items():
        if name in rate:
            ratio = rate[name] / rate['reference']
            print(f'{"goal, notebook in " + precision + ":":36}{ratio:8.2f}x  the float32 reference '
                  f'(at least {goal}x: {"met" if ratio >= goal else "MISSED"})')
    print(f'FLOPs per training step:            {flops / 1e9:8.2f} GFLOP  (both networks, one forward pass)')
    print(f'dense matmul peak (2048^2 float32): {peak:8.1f} GFLOP/s')
    print(f'dense matmul peak (2048^2 bfloat16):{np.median([r["bf16_peak_gflops"] for r in runs["notebook"]]):8.1f} '
          'GFLOP/s')
    for name in ('notebook', 'reference'):
        achieved = rate[name] / BATCH * flops / 1e9
        print(f'{name + " achieved:":36}{achieved:8.1f} GFLOP/s  ({achieved / peak:.1%} of the float32 peak)')
    if args.primitives:
        print_kernel_table(args.steps, args.channels, 'notebook, bfloat16' in names)


if __name__ == '__main__':
    main()
