"""Production settings from the environment: `check --deploy` is clean, and `make run`
(DEBUG on, plain HTTP on localhost) keeps working."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "example.com",
    "PAYMENTS_WEBHOOK_SECRET": secrets.token_urlsafe(40),
}
SHOWN = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "SECURE_", "PAYMENTS_WEBHOOK_SECRET"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(**env: str) -> dict[str, object]:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{k: getattr(settings, k) for k in {SHOWN!r}}}))"
    )
    done = _manage("shell", "-c", code, **env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_check_deploy_reports_no_issue_with_production_variables():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_warns_of_the_development_payment_webhook_secret():
    without_secret = {k: v for k, v in PRODUCTION.items() if k != "PAYMENTS_WEBHOOK_SECRET"}

    done = _manage("check", "--deploy", "--fail-level", "WARNING", **without_secret)

    assert done.returncode != 0
    assert "sagas.W001" in done.stderr + done.stdout


def test_behind_a_tls_proxy_that_redirects_itself_check_deploy_is_still_clean():
    proxy = {
        **PRODUCTION,
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    }

    done = _manage("check", "--deploy", "--fail-level", "WARNING", **proxy)
    shown = _settings(**proxy)

    assert done.returncode == 0, done.stderr
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_production_redirects_to_https_with_hsts_and_secure_cookies():
    shown = _settings(**PRODUCTION)

    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SECURE_HSTS_SECONDS"] == 31_536_000
    assert shown["SESSION_COOKIE_SECURE"] is shown["CSRF_COOKIE_SECURE"] is True


def test_debug_serves_plain_http_on_localhost():
    shown = _settings(DEBUG="1")

    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["SESSION_COOKIE_SECURE"] is False
