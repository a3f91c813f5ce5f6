"""The one exception type the CLI turns into a single error line and exit status 1."""


class BlogtoolsError(Exception):
    """A problem the user can act on: the message names the input and the reason."""
