"""The course's tooling: the learner's submission zip (submit) and the learners' release of the notebooks
(release)."""
