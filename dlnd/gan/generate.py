"""Write images from a trained generator, without the notebook.

    python -m dlnd generate checkpoints/mnist -n 1000 -o mnist_samples.npy [--seed 0]

Reads the checkpoint that the notebook's train() saves and writes a float32 .npy of shape
(n, 28, 28, channels) with values in [-1, 1].
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from ..fileio import DataError, atomic_path
from ..tf_setup import import_tensorflow


def generate(checkpoint_dir, count, seed=0, batch=500):
    """`count` images from the generator saved in checkpoint_dir, for noise drawn with `seed`."""
    tf = import_tensorflow()
    checkpoint = tf.train.latest_checkpoint(str(checkpoint_dir))
    if checkpoint is None:
        raise DataError(f'{checkpoint_dir}: no checkpoint here; train with checkpoint_dir={str(checkpoint_dir)!r}')
    with tf.Graph().as_default(), tf.Session() as sess:
        saver = tf.train.import_meta_graph(checkpoint + '.meta')
        saver.restore(sess, checkpoint)
        sampling = tf.get_collection('sampling')
        if len(sampling) != 2:
            raise DataError(f'{checkpoint}: the graph has no "sampling" collection (input_z, generator output)')
        input_z, images = sampling
        z = np.random.default_rng(seed).uniform(-1, 1, size=(count, input_z.shape[-1]))
        return np.concatenate([sess.run(images, {input_z: z[i:i + batch]}) for i in range(0, count, batch)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint_dir')
    parser.add_argument('-n', '--count', type=int, default=1000)
    parser.add_argument('-o', '--output', default='samples.npy')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    images = generate(Path(args.checkpoint_dir), args.count, args.seed).astype(np.float32)
    with atomic_path(args.output) as tmp, open(tmp, 'wb') as f:
        np.save(f, images)
    print(f'wrote {args.output}: {images.shape}, values {images.min():.2f} to {images.max():.2f}')


if __name__ == '__main__':
    sys.exit(main())
