"""What grading a submission produced, and the files it is written to: results.json (Gradescope's format),
feedback.html for the learner, grades.csv for the class.

A submission graded is a Graded: the file graded, its rubric lines (GradedLine), what went wrong around them, the
isolation its code ran in. What each line is worth is a Points, set in one place (`--points FILE`).
"""
import csv
import dataclasses
import html
import io
import json
import re
import textwrap
from pathlib import Path

from ..fileio import atomic_path

REFUSED = 'submission file'  # the one test of a submission that could not be graded
LONGEST_LINE = 600  # characters of a result's reason: learners' own messages can be any length
# Gradescope shows each output in this format: plain text, its lines kept as lines, links and markup not followed
OUTPUT_FORMAT = 'simple_format'
BASE64 = re.compile(r'[A-Za-z0-9+/]+={0,2}')


@dataclasses.dataclass
class Graded:
    """One submission, graded (or refused, with the one line why)."""
    notebook: str = ''  # the file graded, as named in the submission
    kind: str = ''  # 'face generation' or 'GAN family'
    lines: list = dataclasses.field(default_factory=list)  # [GradedLine]
    problems: list = dataclasses.field(default_factory=list)  # what went wrong around the lines, one line each
    seconds: float = 0.0
    refused: str = ''
    isolation: str = ''  # sandbox.describe(): which isolation its code ran in


@dataclasses.dataclass(frozen=True)
class Points:
    """What the rubric lines are worth: `weights` by key (1 where not named), scaled so that all of them together
    make `total` (the assignment's points in Gradescope; None: the weights as they are)."""
    total: float = None
    weights: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path):
        """From a JSON file {"total": 100, "weights": {"faces": 2, ...}}; ValueError naming the file and what is
        wrong."""
        try:
            data = json.loads(Path(path).read_text())
            points = cls(total=data.get('total'), weights=dict(data.get('weights', {})))
            if set(data) - {'total', 'weights'}:
                raise ValueError(f'unknown keys {sorted(set(data) - {"total", "weights"})}')
            numbers = [points.total] * (points.total is not None) + list(points.weights.values())
            if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and n >= 0 for n in numbers):
                raise ValueError('total and weights must be numbers of at least 0')
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise ValueError(f'{path}: not a points file ({e}); expected {{"total": 100, "weights": '
                             '{"model_inputs": 1, "faces": 2}}') from None
        return points

    def worth(self, keys):
        """{key: what that line is worth} for a rubric's line keys."""
        weights = {key: float(self.weights.get(key, 1)) for key in keys}
        scale = self.total / sum(weights.values()) if self.total is not None and sum(weights.values()) else 1
        return {key: weight * scale for key, weight in weights.items()}


def results_json(graded, points=Points()):
    """Gradescope's autograder results: one test per rubric line, named by its function for graded functions."""
    footer = [graded.isolation] if graded.isolation else []
    if graded.refused:
        return {'score': 0.0, 'output': '\n'.join([graded.refused, *footer]), 'output_format': OUTPUT_FORMAT,
                'tests': [{'name': REFUSED, 'score': 0.0, 'max_score': points.total or 1.0, 'status': 'failed',
                           'output': graded.refused, 'output_format': OUTPUT_FORMAT, 'visibility': 'visible'}],
                'stdout_visibility': 'hidden'}
    worth = points.worth([line.key for line in graded.lines])
    tests = [{'name': line.key, 'score': worth[line.key] if line.met else 0.0, 'max_score': worth[line.key],
              'status': 'passed' if line.met else 'failed',
              'output': '\n'.join([textwrap.shorten(line.reason, LONGEST_LINE, placeholder=' ...')]
                                   + [f'Suggestion: {s}' for s in line.suggestions]),
              'output_format': OUTPUT_FORMAT, 'visibility': 'visible', 'extra_data': {'rubric_line': line.line}}
             for line in graded.lines]
    met = sum(line.met for line in graded.lines)
    summary = f'{graded.kind} notebook {graded.notebook}: {met} of {len(tests)} rubric lines met'
    return {'score': round(sum(test['score'] for test in tests), 4), 'execution_time': graded.seconds,
            'output': '\n'.join([summary, *graded.problems, *footer]), 'output_format': OUTPUT_FORMAT, 'tests': tests,
            'stdout_visibility': 'hidden'}


def refused(results):
    return results['tests'][0]['name'] == REFUSED


FEEDBACK_STYLE = ('body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}'
                  'li{margin:.6rem 0;list-style:none}.met b{color:#176b2c}.unmet b{color:#a4161a}'
                  '.reason{margin:.2rem 0 0 1.5rem}.suggestion{margin:.2rem 0 0 1.5rem;color:#555}'
                  '.problem{color:#a4161a}.isolation{color:#555;font-size:.9em}summary{cursor:pointer}'
                  'figure{display:inline-block;margin:.6rem 1.5rem 0 1.5rem;vertical-align:top}'
                  'figcaption{color:#555;font-size:.9em}img{image-rendering:pixelated}')


def figures(pictures):
    """<figure>s of (caption, base64 PNG) pairs; anything that is not base64 is left out."""
    return ''.join(f'<figure><img src="data:image/png;base64,{png}" alt="{html.escape(caption)}">'
                   f'<figcaption>{html.escape(caption)}</figcaption></figure>'
                   for caption, png in pictures if BASE64.fullmatch(png))


def feedback_html(name, results, pictures=None):
    """The learner's page: the lines not met first, each with its reason, then the lines met, folded, with the
    suggestions and what each line was judged on ({test name: ((caption, base64 PNG), ...)}: the images the
    generator drew, the losses the training printed); all text escaped."""
    e = html.escape
    pictures = pictures or {}

    def item(test):
        reason, *suggestions = test['output'].split('\n')
        met = test['status'] == 'passed'
        line = test.get('extra_data', {}).get('rubric_line', test['name'])
        verdict = '&#10003; Meets' if met else '&#10007; Does not meet'
        return (f'<li class="{"met" if met else "unmet"}"><b>{verdict}</b> {e(line)}'
                f'<div class="reason">{e(reason)}</div>'
                + ''.join(f'<div class="suggestion">{e(s)}</div>' for s in suggestions)
                + figures(pictures.get(test['name'], ())) + '</li>')
    unmet = [item(test) for test in results['tests'] if test['status'] != 'passed']
    met = [item(test) for test in results['tests'] if test['status'] == 'passed']
    folded = (f'<details><summary>{len(met)} rubric line{"s" if len(met) != 1 else ""} met</summary>'
              f'<ul>{"".join(met)}</ul></details>') if met else ''
    summary, *problems = results['output'].split('\n')
    isolation = [p for p in problems if p.startswith('isolation: ')]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>Review of {e(name)}</title><style>{FEEDBACK_STYLE}</style></head><body>'
            f'<h1>Review of {e(name)}</h1><p id="summary">{e(summary)}</p>'
            + ''.join(f'<p class="problem">{e(p)}</p>' for p in problems if p not in isolation)
            + (f'<ul>{"".join(unmet)}</ul>' if unmet else '') + folded
            + ''.join(f'<p class="isolation">{e(p)}</p>' for p in isolation) + '</body></html>\n')


def write_json(path, results):
    """results.json, whole or not at all, readable by all (Gradescope reads it as another user)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(results, indent=1))
        tmp.chmod(0o644)


def write_results(out, name, results, pictures=None):
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / 'results.json', results)
    with atomic_path(folder / 'feedback.html') as tmp:
        tmp.write_text(feedback_html(name, results, pictures))


def write_grades(out, rows):
    """DIR/grades.csv: one row per submission, one column per test (its score)."""
    columns = list(dict.fromkeys([test['name'] for _, results in rows for test in results['tests']
                                  if test['name'] != REFUSED] + [REFUSED]))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['submission', 'score', 'max_score', *columns, 'problems'])
    for name, results in rows:
        scores = {test['name']: test['score'] for test in results['tests']}
        problems = [results['output']] if refused(results) else results['output'].split('\n')[1:]
        writer.writerow([name, results['score'], sum(t['max_score'] for t in results['tests']),
                         *[scores.get(c, '') for c in columns], ' | '.join(problems)])
    with atomic_path(Path(out) / 'grades.csv') as tmp:
        tmp.write_text(text.getvalue())


def summary(rows, seconds):
    full = sum(all(t['status'] == 'passed' for t in r['tests']) for _, r in rows)
    refusals = sum(refused(r) for _, r in rows)
    return (f'graded {len(rows)} submissions in {seconds:.0f} s ({len(rows) / max(seconds, 1e-9) * 60:.1f} a minute): '
            f'{full} met every rubric line, {len(rows) - full - refusals} did not, {refusals} refused')
