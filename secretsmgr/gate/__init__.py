"""The commit gate: judging the git index against HEAD, the blob cache, history and baselines.

Above ``audit`` (it runs the audit engine over git snapshots) and below ``cli``.
"""
