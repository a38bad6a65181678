"""Train DCGAN settings side by side under one CPU-time budget and compare their metrics.

    python bench/gan_settings.py mnist recipe notebook        # the course recipe against the notebook
    python bench/gan_settings.py celeba recipe notebook --batches 3000
    python bench/gan_settings.py mnist recipe lr_g4e-4 ...    # named variants from VARIANTS below
    python bench/gan_settings.py mnist notebook --batches 12000 --every 1000   # scores along the way too

The first setting trains for --batches batches (default: 2 MNIST epochs); its process CPU time is
the budget every other setting gets. 'notebook' uses the functions and settings of
dlnd_face_generation.ipynb itself, and the NOTEBOOK_VARIANTS names (notebook_b128) the same with
other training settings; every other name is the course recipe with some changes.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import helper  # noqa: E402
from dlnd.gan.evaluation import EVAL_IMAGES, CelebaEvaluator, MnistEvaluator  # noqa: E402

tf = helper.import_tensorflow()

# The course recipe, as learners write it: D 64-128-256 5x5 stride 2, G from 7x7x256,
# Adam 2e-4 / beta1 0.5, smoothing 0.9, leaky ReLU 0.2, N(0, 0.02) init, uniform z, batch 64.
# Variants may also set ema (sample from a moving average of G's weights with this decay) and
# simultaneous (update D and G in one run from one forward pass, as Keras tutorials do) and
# decay_from (the fraction of the budget after which both learning rates fall linearly to zero) and
# minibatch_std (D also sees the batch's mean standard deviation as one more feature map) and
# d_dropout (the fraction of D's activations dropped after each convolution, as TensorFlow's DCGAN tutorial);
# lr_d and lr_g are the two networks' Adam learning rates; beta1 and beta2 apply to both.
RECIPE = dict(d_filters=(64, 128, 256), g_filters=(256, 128), kernel=5, alpha=0.2, init_std=0.02,
              smooth=0.9, lr_d=2e-4, lr_g=2e-4, beta1=0.5, beta2=0.999, g_steps=1, z_dist='uniform', z_dim=100,
              bn_momentum=0.99, ema=None, simultaneous=False, decay_from=None, minibatch_std=False,
              d_dropout=0.0, batch_size=64)
VARIANTS = {
    'recipe': {},
    'ttur': dict(lr_d=4e-4, lr_g=1e-4),
    'lr_g4e-4': dict(lr_g=4e-4),
    'g2': dict(g_steps=2),
    'k4': dict(kernel=4),
    'normal_z': dict(z_dist='normal'),
    'wide_g': dict(g_filters=(512, 256)),
    'k4_g2': dict(kernel=4, g_steps=2),
    'lr4e-4': dict(lr_d=4e-4, lr_g=4e-4),
    'bn09': dict(bn_momentum=0.9),
    'bn09_lr4e-4': dict(bn_momentum=0.9, lr_d=4e-4, lr_g=4e-4),
    'bn09_k4': dict(bn_momentum=0.9, kernel=4),
    'alpha01': dict(alpha=0.1),
    'no_smooth': dict(smooth=1.0),
    'k4_g2_bn09': dict(kernel=4, g_steps=2, bn_momentum=0.9),
    'k4_g2_lr4e-4': dict(kernel=4, g_steps=2, lr_d=4e-4, lr_g=4e-4),
    'k4_g2_ema999': dict(kernel=4, g_steps=2, ema=0.999),
    'k4_g2_ema99': dict(kernel=4, g_steps=2, ema=0.99),
    'k4_sim': dict(kernel=4, simultaneous=True),
    'k4_sim_g2': dict(kernel=4, simultaneous=True, g_steps=2),
    'k4_sim_half': dict(kernel=4, simultaneous=True, d_filters=(32, 64, 128), g_filters=(128, 64)),
    'k4_g2_half': dict(kernel=4, g_steps=2, d_filters=(32, 64, 128), g_filters=(128, 64)),
    'k4_sim_quarter': dict(kernel=4, simultaneous=True, d_filters=(16, 32, 64), g_filters=(64, 32)),
}
HALF_SIM = VARIANTS['k4_sim_half']
VARIANTS.update({
    'k4_sim_half_decay': dict(HALF_SIM, decay_from=0.5),
    'k4_sim_half_decay_lr4e-4': dict(HALF_SIM, decay_from=0.5, lr_d=4e-4, lr_g=4e-4),
    'k4_sim_half_lr3e-4': dict(HALF_SIM, lr_d=3e-4, lr_g=3e-4),
    'k4_sim_half_d': dict(HALF_SIM, g_filters=(256, 128)),  # half-width D, full-width G
    'k4_sim_half_lr_g4e-4': dict(HALF_SIM, lr_g=4e-4),  # G learns faster than D
    'k4_sim_half_lr_g6e-4': dict(HALF_SIM, lr_g=6e-4),
    'k4_sim_half_lr_g8e-4': dict(HALF_SIM, lr_g=8e-4),
    'k4_sim_half_lr_g1e-3': dict(HALF_SIM, lr_g=1e-3),
    'k4_sim_half_lr_g1.5e-3': dict(HALF_SIM, lr_g=1.5e-3),
    'k4_sim_half_lr_g2e-3': dict(HALF_SIM, lr_g=2e-3),
    'k4_sim_half_lr_d1e-4': dict(HALF_SIM, lr_d=1e-4),
    'k4_sim_half_beta2_99': dict(HALF_SIM, beta2=0.99),
})
NOTEBOOK_LIKE = VARIANTS['k4_sim_half_lr_g1e-3']
VARIANTS.update({  # aimed at the class balance: does any of these keep every digit class at 7% or more?
    'k4_sim_half_lr_g1e-3_normal_z': dict(NOTEBOOK_LIKE, z_dist='normal'),
    'k4_sim_half_lr_g1e-3_ema999': dict(NOTEBOOK_LIKE, ema=0.999),
    'k4_sim_half_lr_g1e-3_decay08': dict(NOTEBOOK_LIKE, decay_from=0.8),  # both rates to 0 over the last 20%
    'k4_sim_half_lr_g1e-3_mbstd': dict(NOTEBOOK_LIKE, minibatch_std=True),
    'k4_sim_half_lr_g1e-3_lr_d4e-4': dict(NOTEBOOK_LIKE, lr_d=4e-4),  # D 2x faster, G still 1e-3
    'k4_sim_half_lr_g1e-3_dropout': dict(NOTEBOOK_LIKE, d_dropout=0.3),
})
# The notebook's own functions with other training settings (aimed at the class balance too).
NOTEBOOK_VARIANTS = {'notebook_b128': dict(batch_size=128)}


def build_recipe(s):
    """model_loss / model_opt in the recipe's style, from the settings s."""
    init = tf.random_normal_initializer(stddev=s['init_std'])

    def batch_norm(x, is_train):
        return tf.layers.batch_normalization(x, momentum=s['bn_momentum'], training=is_train)

    def discriminator(images, reuse=False):
        with tf.variable_scope('discriminator', reuse=reuse):
            x = images
            for i, filters in enumerate(s['d_filters']):
                x = tf.layers.conv2d(x, filters, s['kernel'], strides=2, padding='same', kernel_initializer=init)
                x = x if i == 0 else tf.layers.batch_normalization(x, momentum=s['bn_momentum'], training=True)
                x = tf.nn.leaky_relu(x, s['alpha'])
                x = tf.nn.dropout(x, rate=s['d_dropout']) if s['d_dropout'] else x
            if s['minibatch_std']:  # one more feature map: how much the batch varies (Karras et al. 2018)
                _, spread = tf.nn.moments(x, axes=[0])
                x = tf.concat([x, tf.ones_like(x[..., :1]) * tf.reduce_mean(tf.sqrt(spread + 1e-8))], axis=-1)
            logits = tf.layers.dense(tf.layers.flatten(x), 1, kernel_initializer=init)
            return tf.sigmoid(logits), logits

    def generator(z, channels, is_train=True):
        with tf.variable_scope('generator', reuse=not is_train):
            first, second = s['g_filters']
            x = tf.reshape(tf.layers.dense(z, 7 * 7 * first, kernel_initializer=init), (-1, 7, 7, first))
            x = tf.nn.leaky_relu(batch_norm(x, is_train), s['alpha'])
            x = tf.layers.conv2d_transpose(x, second, s['kernel'], strides=2, padding='same', kernel_initializer=init)
            x = tf.nn.leaky_relu(batch_norm(x, is_train), s['alpha'])
            x = tf.layers.conv2d_transpose(x, channels, s['kernel'], strides=2, padding='same',
                                           kernel_initializer=init)
            return tf.tanh(x)
    return discriminator, generator


def build_graph(name, channels):
    """(input_real, input_z, train ops, sampler, settings) for a named setting."""
    if name == 'notebook' or name in NOTEBOOK_VARIANTS:
        from dlnd.notebook import load_functions, notebook_settings
        functions, settings = load_functions(tf), dict(notebook_settings(), **NOTEBOOK_VARIANTS.get(name, {}))
        input_real, input_z, lr = functions['model_inputs'](28, 28, channels, settings['z_dim'])
        d_loss, g_loss = functions['model_loss'](input_real, input_z, channels)
        d_opt, g_opt = functions['model_opt'](d_loss, g_loss, lr, settings['beta1'])
        sampler = functions['generator'](input_z, channels, is_train=False)
        feed = {lr: settings['learning_rate']}
        return input_real, input_z, ((d_opt, g_opt),), sampler, dict(settings, feed=feed)  # one run, as train()
    s = dict(RECIPE, **VARIANTS[name])
    discriminator, generator = build_recipe(s)
    input_real = tf.placeholder(tf.float32, (None, 28, 28, channels))
    input_z = tf.placeholder(tf.float32, (None, s['z_dim']))
    fake = generator(input_z, channels)
    _, real_logits = discriminator(input_real)
    _, fake_logits = discriminator(fake, reuse=True)
    ce = tf.nn.sigmoid_cross_entropy_with_logits
    d_loss = (tf.reduce_mean(ce(logits=real_logits, labels=tf.ones_like(real_logits) * s['smooth'])) +
              tf.reduce_mean(ce(logits=fake_logits, labels=tf.zeros_like(fake_logits))))
    g_loss = tf.reduce_mean(ce(logits=fake_logits, labels=tf.ones_like(fake_logits)))
    step = tf.train.get_or_create_global_step()
    lr_scale = tf.placeholder_with_default(1.0, (), name='lr_scale')
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_opt = tf.train.AdamOptimizer(s['lr_d'] * lr_scale, s['beta1'], s['beta2']).minimize(
            d_loss, var_list=tf.trainable_variables('discriminator'))
        g_opt = tf.train.AdamOptimizer(s['lr_g'] * lr_scale, s['beta1'], s['beta2']).minimize(
            g_loss, var_list=tf.trainable_variables('generator'), global_step=step)
    if s['ema']:
        g_opt, sampler = with_weight_average(g_opt, s['ema'], step, lambda: generator(input_z, channels, False))
    else:
        sampler = generator(input_z, channels, is_train=False)
    # D's run then G's, or one run updating both from the same forward pass; then G's extra steps
    first = ((d_opt, g_opt),) if s['simultaneous'] else (d_opt, g_opt)
    return input_real, input_z, first + (g_opt,) * (s['g_steps'] - 1), sampler, dict(s, feed={}, lr_scale=lr_scale)


def with_weight_average(g_opt, decay, step, build_sampler):
    """(g_opt that also updates a moving average of G's weights, a sampler built on those averages)."""
    average = tf.train.ExponentialMovingAverage(decay, num_updates=step)
    with tf.control_dependencies([g_opt]):
        g_opt = average.apply(tf.trainable_variables('generator'))

    def averaged(getter, name, *args, **kwargs):
        variable = getter(name, *args, **kwargs)
        shadow = average.average(variable)  # None for variables without an average (batch norm's statistics)
        return variable if shadow is None else shadow
    with tf.variable_scope(tf.get_variable_scope(), custom_getter=averaged):
        return g_opt, build_sampler()


CLASS_SHARE_SAMPLES = 10_000  # MNIST samples drawn for the class shares


def sample_z(rng, settings, count):
    if settings.get('z_dist') == 'normal':
        return rng.normal(size=(count, settings['z_dim']))
    return rng.uniform(-1, 1, size=(count, settings['z_dim']))


def endless_batches(dataset, batch_size):
    while True:
        yield from dataset.get_batches(batch_size)


def as_json(scores):
    """Metric values with arrays (the class histogram) as lists."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in scores.items()}


def score(images, evaluator):
    """The evaluator's metrics (of the first 1,000 images) and, on MNIST, each class's share over all of them."""
    record = as_json(evaluator(images))
    if isinstance(evaluator, MnistEvaluator):
        record[f'class shares of {len(images)}'] = evaluator.class_shares(images).tolist()
    return record


def train_setting(name, dataset, batches, cpu_budget, evaluator, seed=0, every=None):
    """Train until `batches` batches or `cpu_budget` CPU seconds; returns (the result record, the samples).

    The metrics score the first 1,000 samples; on MNIST there are CLASS_SHARE_SAMPLES, and the record
    also has each class's share over all of them (10,000 pin a share down to 0.3 points, 1,000 to 0.8).
    With `every`, the same scores are also printed every that many batches (their CPU time is not
    counted against the budget), to see how a setting moves during training.
    """
    samples = CLASS_SHARE_SAMPLES if isinstance(evaluator, MnistEvaluator) else EVAL_IMAGES
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        input_real, input_z, train_ops, sampler, settings = build_graph(name, dataset.shape[3])
        eval_z = sample_z(np.random.default_rng(1234), settings, samples)  # its first 1,000 as before
        config = helper.session_config(log=lambda line: print(line, file=sys.stderr))  # DLND_MIXED_PRECISION too
        with tf.Session(config=config) as sess:
            def generate():
                return np.concatenate([sess.run(sampler, {input_z: eval_z[i:i + EVAL_IMAGES]})
                                       for i in range(0, samples, EVAL_IMAGES)])

            def position():  # where training is now: the head of every printed record
                return {'setting': name, 'batches': done, 'cpu_seconds': round(spent, 1)}

            sess.run(tf.global_variables_initializer())
            start, done, spent = time.process_time(), 0, 0.0
            for batch in endless_batches(dataset, settings['batch_size']):
                feed = {input_real: batch, input_z: sample_z(rng, settings, len(batch)), **settings['feed']}
                if settings.get('decay_from') is not None:
                    progress = spent / cpu_budget if cpu_budget else done / batches
                    feed[settings['lr_scale']] = min(1.0, (1 - progress) / (1 - settings['decay_from']))
                for op in train_ops:
                    sess.run(op, feed)
                done += 1
                spent = time.process_time() - start
                if done == batches or (cpu_budget and spent >= cpu_budget):
                    break
                if every and done % every == 0:
                    print(json.dumps({**position(), **score(generate(), evaluator)}), flush=True)
                    start = time.process_time() - spent  # scoring is not training time
            images = generate()
    return {**position(), **score(images, evaluator)}, images


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=('mnist', 'celeba'))
    parser.add_argument('settings', nargs='+')
    parser.add_argument('--batches', type=int, default=2 * (60000 // 64))
    parser.add_argument('--data', default=str(ROOT / 'data'))
    parser.add_argument('--budget', type=float, help='CPU seconds for every setting (instead of the first one\'s)')
    parser.add_argument('--save', help='folder for a JSON of the results and .npy of the samples')
    parser.add_argument('--seed', type=int, default=0, help='seeds the weights, the noise and the batch order')
    parser.add_argument('--every', type=int, help='also print the scores every that many batches')
    args = parser.parse_args()
    dataset = helper.Dataset(args.dataset, args.data, seed=args.seed)
    evaluator = (MnistEvaluator if args.dataset == 'mnist' else CelebaEvaluator)(args.data)
    baseline = as_json(evaluator.real_baseline())
    print(json.dumps({'setting': 'real data', **baseline}), flush=True)
    results, budget = [baseline], args.budget
    for name in args.settings:
        record, samples = train_setting(name, dataset, args.batches if budget is None else None, budget, evaluator,
                                        args.seed, args.every)
        budget = budget or record['cpu_seconds']
        print(json.dumps(record), flush=True)
        results.append(record)
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            np.save(Path(args.save) / f'{args.dataset}_{name}.npy', samples)
    if args.save:
        (Path(args.save) / f'{args.dataset}_results.json').write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
