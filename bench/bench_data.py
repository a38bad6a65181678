"""Data-layer benchmarks, each printed as a ratio measured side by side in this one run.

    python bench/bench_data.py [--data ../shared/data] [--rounds 3]

1. Batch feed: images/s of Dataset.get_batches against the course's original way (open, crop and
   resize every JPEG with PIL for every batch) on the same files.   Target: >= 100x.
2. Preprocessing: images/s of the parallel half-scale-decode cache build against a plain single-process
   PIL loop that decodes each JPEG at full size.                      Target: >= 3x.
3. The same cache build decoding with Pillow's draft mode instead of simplejpeg (what runs where simplejpeg
   is not installed, as on hosted kernels): simplejpeg's rate as a multiple of Pillow's.
Then where one process spends its time on an image: microseconds for each stage of the cache build.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dlnd import celeba  # noqa: E402
from dlnd.data.dataset import Dataset  # noqa: E402

BATCH = 64


def course_batches(files, batch_size):
    """The original course helper: every batch opens, crops and resizes its JPEGs again."""
    for start in range(0, len(files) - batch_size + 1, batch_size):
        batch = []
        for path in files[start:start + batch_size]:
            image = Image.open(path)
            j, i = (image.size[0] - 108) // 2, (image.size[1] - 108) // 2
            image = image.crop([j, i, j + 108, i + 108]).resize([28, 28], Image.BILINEAR)
            batch.append(np.array(image.convert('RGB')))
        yield np.array(batch).astype(np.float32) / 127.5 - 1.0


def plain_preprocess(files):
    """Single process, full-size decode: what a straightforward loop does."""
    out = np.empty((len(files), 28, 28, 3), np.uint8)
    for k, path in enumerate(files):
        image = Image.open(path).convert('RGB')
        j, i = (image.size[0] - 108) // 2, (image.size[1] - 108) // 2
        out[k] = np.asarray(image.crop((j, i, j + 108, i + 108)).resize((28, 28), Image.BILINEAR))
    return out


def rate(run, count):
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def stage_costs(files, rounds):
    """Microseconds an image for each stage of celeba.crop_and_resize in this process (best of rounds)."""
    decoded = [celeba.decode_reduced(path) for path in files]
    stages = {'read the file': lambda k: files[k].read_bytes(),
              'read and decode at half scale': lambda k: celeba.decode_reduced(files[k]),
              'crop and resize': lambda k: celeba.shrink(*decoded[k]),
              'all of crop_and_resize': lambda k: celeba.crop_and_resize(files[k])}
    costs = {}
    for label, stage in stages.items():
        costs[label] = min(1e6 / rate(lambda: [stage(k) for k in range(len(files))], len(files))
                           for _ in range(rounds))
    return costs


def drain(batches):
    return sum(len(b) for b in batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=str(Path(__file__).resolve().parent.parent.parent / 'shared' / 'data'))
    parser.add_argument('--rounds', type=int, default=3, help='alternating A/B rounds; the median is reported')
    args = parser.parse_args()
    files = sorted((Path(args.data) / 'celeba' / 'img_align_celeba').glob('*.jpg'))
    print(f'{len(files):,} CelebA JPEGs (178x218) from {args.data}; {os.cpu_count()} CPU cores; batch {BATCH}')

    with tempfile.TemporaryDirectory() as data_path:
        prep_ours, prep_plain, prep_pillow, feed_ours, feed_course = [], [], [], [], []
        for _ in range(args.rounds):
            prep_plain.append(rate(lambda: plain_preprocess(files), len(files)))
            prep_pillow.append(rate(lambda: celeba.build_cache(files, data_path, use_simplejpeg=False), len(files)))
            prep_ours.append(rate(lambda: celeba.build_cache(files, data_path), len(files)))
            dataset = Dataset('celeba', data_path)
            count = len(files) // BATCH * BATCH
            feed_ours.append(rate(lambda: drain(dataset.get_batches(BATCH)), count))
            feed_course.append(rate(lambda: drain(course_batches(files, BATCH)), count))

    rows = [('batch feed (images/s)', feed_ours, feed_course, 100),
            ('preprocessing (images/s)', prep_ours, prep_plain, 3),
            ('simplejpeg vs Pillow draft', prep_ours, prep_pillow, 1)]
    print(f'\n{"":26}{"ours":>12}{"baseline":>12}{"ratio":>9}{"target":>9}')
    for label, ours, base, target in rows:
        ratio = np.median(ours) / np.median(base)
        verdict = 'met' if ratio >= target else 'MISSED'
        print(f'{label:26}{np.median(ours):12,.0f}{np.median(base):12,.0f}{ratio:8.1f}x{target:>7}x  {verdict}')

    print('\none process, microseconds an image:')
    for label, cost in stage_costs(files, args.rounds).items():
        print(f'  {label:32}{cost:8.1f}')


if __name__ == '__main__':
    main()
