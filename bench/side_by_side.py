"""Put sample grids from bench/gan_settings.py --save side by side in one PNG, with captions.

    python bench/side_by_side.py /tmp/exp/final mnist recipe notebook -o assets/mnist_recipe_vs_notebook.png
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import helper  # noqa: E402

SCALE, COUNT = 2, 64


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('folder')
    parser.add_argument('dataset', choices=('mnist', 'celeba'))
    parser.add_argument('settings', nargs='+')
    parser.add_argument('-o', '--output', required=True)
    args = parser.parse_args()
    mode = 'L' if args.dataset == 'mnist' else 'RGB'
    grids = []
    for name in args.settings:
        images = np.load(Path(args.folder) / f'{args.dataset}_{name}.npy')[:COUNT]
        grid = helper.images_square_grid(images, mode).convert('RGB')
        grids.append((name, grid.resize((grid.width * SCALE, grid.height * SCALE), Image.NEAREST)))
    width, height = grids[0][1].size
    canvas = Image.new('RGB', (len(grids) * (width + 10) - 10, height + 24), 'white')
    draw = ImageDraw.Draw(canvas)
    for k, (name, grid) in enumerate(grids):
        canvas.paste(grid, (k * (width + 10), 24))
        draw.text((k * (width + 10) + 4, 6), name, fill='black')
    canvas.save(args.output)
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()
