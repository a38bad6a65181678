"""Grading: one notebook (review) or a class (grade), locally or as a Gradescope autograder (gradescope).

    submission    what was submitted: which notebook, which rubric; refused in one line when it cannot be graded
    sandbox       runs a command isolated: bubblewrap where it can start, else a user of its own (confine);
                  cgroups (v2 or v1) or rlimits for its memory, processes and CPU time
    learner_run   inside the learner's sandbox: the checks on the learner's code, recorded
    judging       inside the judge's sandbox, where no learner code runs: the rubric on that record
    rubric        the rubric's lines and how each is judged
    results       the graded submission, its points, results.json, feedback.html, grades.csv
    grade, review, gradescope   the command lines
"""
