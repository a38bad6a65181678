"""The flowers lesson over a longer run than the notebook's: gan_variants.ipynb part 5's DCGAN without and with
differentiable augmentation (the notebook's own functions), one after the other for the same CPU time, with
the SWD to the held-out photographs (mean over four sets of generated flowers), the discriminator's mean output
on training and on held-out photographs, and the closeness to the training set recorded every --every batches.
Writes OUT.json and OUT.png: each SWD level against batches, with the range that disjoint sets of training
photographs score against the held-out ones (the floor: what real flowers score).

    python bench/flowers_trajectory.py [--cpu-seconds 2250] [--every 1000] [--out build/flowers_trajectory]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import helper  # noqa: E402
from dlnd.gan import gan_family  # noqa: E402
from dlnd.gan.evaluation import FlowersEvaluator  # noqa: E402
from dlnd.fileio import atomic_path  # noqa: E402
from dlnd.notebook import load_variant_functions  # noqa: E402

tf = helper.import_tensorflow()
SAMPLE_SETS = 4  # generated sets per SWD measurement, averaged: one set's SWD varies by 1 to 2 at 28 and 14 px


def notebook_variants():
    """Part 5's two GANs, built from the notebooks' reference functions as part 5 binds them."""
    family = load_variant_functions(tf)
    networks = family['discriminator'], family['generator'], family['gan_loss']
    return [gan_family.Variant('DCGAN', *networks),
            gan_family.Variant('DCGAN + DiffAugment', *networks, family['augmented_model_loss'])]


def swd_and_closeness(evaluator):
    """score(gan) for gan_family.train: the SWD per level, averaged over SAMPLE_SETS sets of fixed noise, and the
    closeness of the first set to the training photographs."""
    noise = [np.random.default_rng(1234 + k).uniform(-1, 1, (len(evaluator.real), gan_family.Z_DIM))
             for k in range(SAMPLE_SETS)]

    def score(gan):
        samples = [gan.generate(z) for z in noise]
        levels = [evaluator(images) for images in samples]
        return {**{level: np.mean([scores[level] for scores in levels]) for level in levels[0]},
                'closeness to training': evaluator.closeness_to_training(samples[0])}
    return score


def plot(record, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    levels = list(record['floor'][0])
    fig, axes = plt.subplots(1, len(levels) + 1, figsize=(4.2 * (len(levels) + 1), 3.6))
    for ax, level in zip(axes, levels):
        floor = [scores[level] for scores in record['floor']]
        ax.axhspan(min(floor), max(floor), color='0.85', label='training photographs (floor)')
        for name, probes in record['runs'].items():
            ax.plot(probes['batch'], probes[level], label=name)
        ax.set_title(f'{level} to the held-out photographs')
        ax.set_xlabel('batch')
    axes[0].legend(fontsize=8)
    for (name, probes), color in zip(record['runs'].items(), ('tab:blue', 'tab:orange')):
        for probe, style in (('training', '-'), ('held-out', '--')):
            axes[-1].plot(probes['batch'], probes[probe], style, color=color, label=f'{name}: {probe}')
    axes[-1].set_title("discriminator's mean output on photographs")
    axes[-1].set_xlabel('batch')
    axes[-1].set_ylim(0, 1)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cpu-seconds', type=float, default=2250, help='each GAN\'s training budget')
    parser.add_argument('--every', type=int, default=1000, help='batches between measurements')
    parser.add_argument('--out', default=str(ROOT / 'build' / 'flowers_trajectory'), help='OUT.json and OUT.png')
    parser.add_argument('--data', default=str(ROOT / 'data'))
    args = parser.parse_args(argv)
    helper.download_extract('flowers', args.data)
    flowers, evaluator = helper.Dataset('flowers', args.data), FlowersEvaluator(args.data)
    probe_sets = {'training': evaluator.training[:len(evaluator.real)], 'held-out': evaluator.real}
    record = {'cpu_seconds': args.cpu_seconds, 'floor': evaluator.real_floor(), 'runs': {}}
    for variant in notebook_variants():
        gan = gan_family.train(variant, flowers, args.cpu_seconds, report_every=args.every, probe_sets=probe_sets,
                               probe_every=args.every, score=swd_and_closeness(evaluator))
        record['runs'][variant.name] = gan.probes
        for k in range(len(gan.probes['batch'])):
            print(json.dumps({'run': variant.name, **{name: values[k] for name, values in gan.probes.items()}}),
                  flush=True)
    with atomic_path(args.out + '.json') as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    plot(record, args.out + '.png')
    print(f'wrote {args.out}.json and {args.out}.png')


if __name__ == '__main__':
    main()
