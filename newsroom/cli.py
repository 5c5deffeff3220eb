"""Command-line helpers shared by management commands and the bench scripts."""

import sys


def one_line_errors(parser):
    """Make argument errors a single line on stderr and exit status 2."""

    def error(message):
        sys.stderr.write(f"{parser.prog}: error: {message}\n")
        sys.exit(2)

    parser.error = error
    return parser
