"""The test suite's settings: production's, plus the benchmark app, whose probe
subscription the delivery tests use. Set in the environment, so that the worker
processes the tests start install it too."""

import os

os.environ["EASYCHAMP_BENCH"] = "1"

from easychamp.settings import *  # noqa: F403
