"""The package's exception family.

Every error caused by what a user typed (a bad value, an unknown phase, a malformed
sample file) is an :class:`InterphaseInputError`, a :class:`ValueError` whose message
names the offending field and the accepted range.
"""

from __future__ import annotations

__all__ = ["InterphaseInputError"]


class InterphaseInputError(ValueError):
    """Bad user input: the message names the field and what is accepted.

    Parameters
    ----------
    field : str
        Dotted name of the offending field (e.g. ``"layers[1].thickness_nm"``).
    problem : str
        What is wrong, in words a user understands, including the accepted range.
    """

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
