#!/usr/bin/env python
"""trackerweb's command line. `--endpoints PATH` picks the endpoints.yml for any command."""

import os
import sys


def take_endpoints_option(argv):
    """Remove `--endpoints PATH` / `--endpoints=PATH` from argv; return the path or None."""
    for index, arg in enumerate(argv):
        if arg == "--endpoints":
            if index + 1 >= len(argv):
                sys.exit("manage.py: --endpoints needs a path to an endpoints.yml")
            path = argv[index + 1]
            del argv[index : index + 2]
            return path
        if arg.startswith("--endpoints="):
            del argv[index]
            return arg.split("=", 1)[1]
    return None


def main():
    endpoints = take_endpoints_option(sys.argv)
    if endpoints:
        # An environment variable, so runserver's reloaded child sees it too.
        os.environ["TRACKERWEB_ENDPOINTS"] = os.path.abspath(endpoints)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
