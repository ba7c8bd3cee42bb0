"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""


class UsageError(Exception):
    """Bad input from the user: a path, a date, a scenario, an option. The message names the fix."""
