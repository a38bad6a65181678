"""One command line over the package: `python -m dlnd COMMAND [ARGS]` (`python -m dlnd COMMAND --help`)."""
import runpy
import sys

COMMANDS = {
    'grade': ('dlnd.grading.grade', 'grade a class: every submission sandboxed, judged apart; results, feedback, '
              'grades.csv'),
    'review': ('dlnd.grading.review', 'one notebook against the rubric, line by line, graded as a class is'),
    'gradescope': ('dlnd.grading.gradescope', 'build the Gradescope autograder zip (bundle), or run it (run)'),
    'submit': ('dlnd.course.submit', "a learner's submission zip, refused until the notebook ran to the end"),
    'release': ('dlnd.course.release', "the learners' copy of a notebook: solutions stubbed, outputs cleared"),
    'generate': ('dlnd.gan.generate', "images from a trained generator's checkpoint"),
    'evaluate': ('dlnd.gan.evaluation', "the notebooks' metrics for generated images, next to real data's"),
    'classifier': ('dlnd.gan.mnist_classifier', 'train (once) and test the MNIST classifier the metrics use'),
    'hosted': ('dlnd.hosted', "what the notebooks' set-up cell would install here, installing nothing"),
}


def usage():
    width = max(map(len, COMMANDS))
    return 'usage: python -m dlnd COMMAND [ARGS]\n\n' + '\n'.join(
        f'  {name:{width}}  {text}' for name, (_, text) in COMMANDS.items())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        asked = bool(argv) and argv[0] in ('-h', '--help')
        print(usage() if asked or not argv else f'python -m dlnd: no command {argv[0]!r}\n\n{usage()}',
              file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    sys.argv = [f'python -m dlnd {argv[0]}', *argv[1:]]
    runpy.run_module(COMMANDS[argv[0]][0], run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main())
