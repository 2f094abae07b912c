#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")
    if sys.argv[1:2] == ["bench"]:
        # The benchmark app (and its probe subscription) exists only where one runs.
        os.environ["EASYCHAMP_BENCH"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
