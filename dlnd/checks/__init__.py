"""The graded checks' machinery: graph_checks runs a check in a fresh graph (problem_unittests.py calls it), replay
records a check's calls on the learner's code and replays them where no learner code runs."""
