"""The test suite's settings: production's, plus the benchmark app, whose probe
subscription the delivery tests use. Set in the environment, so that the worker
processes the tests start install it too."""

import os

os.environ["EASYCHAMP_BENCH"] = "1"

from typing import cast

from easychamp.settings import *  # noqa: F403
from easychamp.settings import REST_FRAMEWORK as _production_rest

# Sign-ins and sign-ups come from one address (the test client's) all through the run:
# the login rate is off unless a test sets one (the throttle tests do).
_rates = cast(dict[str, str], _production_rest["DEFAULT_THROTTLE_RATES"])
REST_FRAMEWORK = {**_production_rest, "DEFAULT_THROTTLE_RATES": {**_rates, "login": "off"}}
