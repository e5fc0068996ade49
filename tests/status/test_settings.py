"""Settings come from the environment; production-like settings pass Django's deploy check."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "k3v9-QpL2_xR8mZt0wYc5#nHs7uBf4eJa6gDi1oKl!TbVr-Wq3Ez",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "status.example.com",
    "SITE_URL": "https://status.example.com",
    "PUBLIC_BASE_DOMAIN": "pages.example.com",
    "DATABASE_URL": "postgres://heliograph:secret@db.internal:5432/heliograph",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:p%40ss@smtp.example.com:587",
}
PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG, "engine": db["ENGINE"], "db_host": db["HOST"], "db_name": db["NAME"],
    "cache": settings.CACHES["default"]["BACKEND"], "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER, "email": settings.EMAIL_BACKEND,
    "email_host": getattr(settings, "EMAIL_HOST", None),
    "email_port": getattr(settings, "EMAIL_PORT", None),
    "email_password": getattr(settings, "EMAIL_HOST_PASSWORD", None),
    "email_tls": getattr(settings, "EMAIL_USE_TLS", None), "site_hosts": settings.SITE_HOSTS,
    "base_domain": settings.PUBLIC_BASE_DOMAIN,
}))
"""


def clean_env(**extra):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return {**keep, "DJANGO_SETTINGS_MODULE": "config.settings", **extra}


def run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], clean_env(**PRODUCTION)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_come_from_the_environment():
    result = run(["-c", PRINT_SETTINGS], clean_env(**PRODUCTION))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "debug": False,
        "engine": "django.db.backends.postgresql",
        "db_host": "db.internal",
        "db_name": "heliograph",
        "cache": "config.cache.RedisCache",
        "broker": "redis://cache.internal:6379/0",
        "eager": False,
        "email": "django.core.mail.backends.smtp.EmailBackend",
        "email_host": "smtp.example.com",
        "email_port": 587,
        "email_password": "p@ss",
        "email_tls": True,
        "site_hosts": ["status.example.com"],
        "base_domain": "pages.example.com",
    }


def test_embedded_default_needs_no_variables(tmp_path):
    result = run(["-c", PRINT_SETTINGS], clean_env(VAR_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is True
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "heliograph.sqlite3")
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["eager"] is True
    assert values["email"] == "django.core.mail.backends.filebased.EmailBackend"


def test_debug_off_without_a_secret_key_is_a_clear_error():
    result = run(["-c", PRINT_SETTINGS], clean_env(DEBUG="false"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
