"""Settings from the environment: a bad value stops start-up with a message naming the
variable; it never silently turns a protection off nor fails every request later."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from easychamp.database import Pool
from easychamp.env import env_bool, env_int, env_log_level, env_number, env_rate, parse_rate
from tests.easychamp.test_settings import PRODUCTION, _manage


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("Off", False)],
)
def test_a_switch_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_SWITCH", raw)

    assert env_bool("SOME_SWITCH", default=not expected) is expected


@pytest.mark.parametrize("typo", ["ture", "yes please", "enabled", "2"])
def test_a_switch_spelled_any_other_way_is_refused(monkeypatch, typo):
    monkeypatch.setenv("SOME_SWITCH", typo)

    # Before: read as False (SECURE_SSL_REDIRECT=ture turned HTTPS off, check --deploy
    # clean; DATABASE_POOL=2 turned the pool off)
    with pytest.raises(ImproperlyConfigured, match="SOME_SWITCH"):
        env_bool("SOME_SWITCH", default=True)


@pytest.mark.parametrize("raw", ["-5", "abc", "1.5"])
def test_a_whole_number_out_of_range_or_malformed_is_refused(monkeypatch, raw):
    monkeypatch.setenv("SOME_NUMBER", raw)

    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 3, minimum=0)


@pytest.mark.parametrize("raw", ["nan", "inf", "1e9", "-1", "soon"])
def test_a_number_that_is_not_finite_and_in_range_is_refused(monkeypatch, raw):
    monkeypatch.setenv("SOME_HOURS", raw)

    # Before (TOKEN_TTL_HOURS): every token request was a 500 (timedelta overflowed)
    with pytest.raises(ImproperlyConfigured, match="SOME_HOURS"):
        env_number("SOME_HOURS", 1, 0.001, 87_660, "hours")


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("600/min", (600, 60)), ("10/s", (10, 1)), ("5/hour", (5, 3600)), ("off", None), ("", None)],
)
def test_throttle_rates_are_read_as_drf_writes_them(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["600 per minute", "600", "600/week", "lots/min", "-1/min"])
def test_a_malformed_throttle_rate_is_refused_at_start_up(monkeypatch, rate):
    monkeypatch.setenv("API_THROTTLE_ANON", rate)

    # Before: accepted, then every anonymous API request was a 500 (parse_rate raised)
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_ANON"):
        env_rate("API_THROTTLE_ANON", "600/min")


def test_a_blank_rate_means_the_default_not_off(monkeypatch):
    monkeypatch.setenv("API_THROTTLE_LOGIN", "  ")

    # Before: " " was kept, and read as off (no limit on sign-in attempts)
    assert env_rate("API_THROTTLE_LOGIN", "10/min") == "10/min"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", "INFO"), ("debug", "DEBUG"), ("  ", "INFO"), ("warn", "WARNING"), ("FATAL", "CRITICAL")],
)
def test_the_log_level_may_be_empty_or_lower_case(monkeypatch, raw, expected):
    monkeypatch.setenv("LOG_LEVEL", raw)

    # Before: every process died configuring logging
    assert env_log_level() == expected


def test_an_unknown_log_level_is_refused(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "chatty")

    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL"):
        env_log_level()


def test_a_pool_whose_minimum_exceeds_its_maximum_is_refused():
    # Before: accepted; psycopg_pool refused it at the first connection (every request a 500)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL_MIN_SIZE"):
        Pool(min_size=9, max_size=8)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECURE_SSL_REDIRECT", "ture"),
        ("DATABASE_POOL", "2"),
        ("SECURE_HSTS_SECONDS", "-5"),
        ("DATABASE_POOL_MIN_SIZE", "9"),
        ("TOKEN_TTL_HOURS", "inf"),
        ("PAYMENTS_WEBHOOK_TOLERANCE_SECONDS", "nan"),
    ],
)
def test_the_settings_refuse_a_bad_value_at_start_up_naming_it(variable, value):
    done = _manage("check", "--deploy", **{**PRODUCTION, variable: value})

    assert done.returncode != 0
    assert variable in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORT", "70000"), ("WEB_CONCURRENCY", "0"), ("WEB_GRACEFUL_TIMEOUT", "x")],
)
def test_the_web_processes_refuse_a_bad_value_naming_it(monkeypatch, variable, value):
    from easychamp import web

    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(web.uvicorn, "run", lambda *args, **kwargs: None)

    # Before: a bare int() (PORT=70000 went to the socket, WEB_GRACEFUL_TIMEOUT=x was a
    # traceback not naming it)
    with pytest.raises(ImproperlyConfigured, match=variable):
        web.main()
