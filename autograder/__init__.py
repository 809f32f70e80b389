"""The course's grading tools.

``autograder.checks`` and ``autograder.exercises`` run inside students' notebooks (numpy and nnlib
only); the instructor's command line (``python -m autograder``) wraps nbgrader.
"""
