"""Build the learner's notebook from the reference solution.

    python -m dlnd release [dlnd_face_generation.ipynb | gan_variants.ipynb] [-o release/NAME.ipynb]
                           [--repository OWNER/NAME]

Every block between '### BEGIN SOLUTION' and '### END SOLUTION' becomes a '# TODO: Implement Function'
stub, all outputs are cleared, the prose about the stored run (between '<!-- stored run -->' and
'<!-- /stored run -->' in a markdown cell) is taken out, and everything else stays as it is, but for
--repository: the GitHub
repository the notebook is published in, which its setup cell fetches the project from and its "Open in
Colab" and "Open in Kaggle" links open it from (default: dlnd.hosted.PUBLISHED_REPOSITORY).
"""
import argparse
import copy
import json
import re
from pathlib import Path

from ..fileio import atomic_path
from ..hosted import PUBLISHED_REPOSITORY
from ..notebook import NOTEBOOK, read

BEGIN, END = '### BEGIN SOLUTION', '### END SOLUTION'
# Prose true of the reference's stored run (its data, its figures), not of the learner's own run.
STORED_RUN = re.compile(r'<!-- stored run -->.*?<!-- /stored run -->', re.DOTALL)
STUB = ('# TODO: Implement Function', 'return None')


def _indent(line):
    return line[:len(line) - len(line.lstrip())]


def solution_blocks(source):
    """The marked blocks of a cell, each as its list of lines (markers included)."""
    blocks, current = [], None
    for line in source.split('\n'):
        if line.strip() == BEGIN:
            current = []
        if current is not None:
            current.append(line)
        if line.strip() == END:
            if current is None:
                raise ValueError(f'{END} without {BEGIN}')
            blocks.append(current)
            current = None
    if current is not None:
        raise ValueError(f'{BEGIN} without {END}')
    return blocks


def strip_solutions(source):
    """The cell with each marked block replaced by the stub, at the block's indentation."""
    lines, inside = [], False
    for line in source.split('\n'):
        if line.strip() == BEGIN:
            inside = True
            lines += [_indent(line) + text for text in STUB]
        elif line.strip() == END:
            inside = False
        elif not inside:
            lines.append(line)
    solution_blocks(source)  # raises on unbalanced markers
    return '\n'.join(lines)


def insert_solutions(learner_source, reference_source):
    """Put the reference's blocks back in place of the stubs, in order."""
    blocks = iter(solution_blocks(reference_source))
    lines, source_lines = [], learner_source.split('\n')
    k = 0
    while k < len(source_lines):
        pair = tuple(line.strip() for line in source_lines[k:k + 2])
        if pair == STUB:
            lines += next(blocks)
            k += 2
        else:
            lines.append(source_lines[k])
            k += 1
    return '\n'.join(lines)


def _map_code_cells(nb, change):
    result = copy.deepcopy(nb)
    for cell in result['cells']:
        if cell['cell_type'] == 'code':
            cell['source'] = change(''.join(cell['source']))
            cell['outputs'], cell['execution_count'] = [], None
    return result


def learner_notebook(reference, repository=PUBLISHED_REPOSITORY):
    """The reference notebook (as a dict) turned into the learner's: stubs in, outputs out, published in
    `repository` (OWNER/NAME on GitHub)."""
    if not re.fullmatch(r'[\w.-]+/[\w.-]+', repository):
        raise ValueError(f'--repository {repository!r}: give it as OWNER/NAME, as in github.com/OWNER/NAME')
    learner = _map_code_cells(reference, strip_solutions)
    for cell in learner['cells']:
        if cell['cell_type'] == 'markdown':
            cell['source'] = STORED_RUN.sub('', ''.join(cell['source']))
    for cell in learner['cells']:  # the setup cell's source and the badges' links
        source = cell['source']
        cell['source'] = source.replace(PUBLISHED_REPOSITORY, repository) if isinstance(source, str) else \
            [line.replace(PUBLISHED_REPOSITORY, repository) for line in source]
    return learner


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebook', nargs='?', default=str(NOTEBOOK))
    parser.add_argument('-o', '--output', help='default: release/ and the notebook\'s name')
    parser.add_argument('--repository', default=PUBLISHED_REPOSITORY,
                        help='OWNER/NAME on GitHub (default: %(default)s)')
    args = parser.parse_args()
    output = args.output or str(Path('release') / Path(args.notebook).name)
    try:
        learner = learner_notebook(read(args.notebook), args.repository)
    except ValueError as e:
        parser.error(str(e))
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(learner, indent=1, ensure_ascii=False) + '\n')
    stubs = sum(cell['source'].count(STUB[0]) for cell in learner['cells'] if cell['cell_type'] == 'code')
    print(f'wrote {output}: {stubs} functions to implement, outputs cleared')


if __name__ == '__main__':
    main()
