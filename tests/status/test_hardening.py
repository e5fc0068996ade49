"""Findings of the security review on tenants, pages and settings: names that would break
every email header, and the HSTS preload default."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from status.models import SUBSCRIBER_SETTINGS, Page, Tenant

ROOT = Path(__file__).resolve().parents[2]
NAME_ERROR = "without line breaks, tabs or other control characters"
BAD_NAMES = ["Acme\r\nBcc: victim@example.com", "Acme\nInc", "Acme\tInc", "Acme\x00", "Acme\x1b[2J",
             "Acme\u2028Inc", "Acme\x85Inc"]  # fmt: skip


# Names with control characters: refused wherever they are given.


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_page_or_tenant_name_with_control_characters_is_refused_by_the_model(page, name):
    page.name = name
    with pytest.raises(ValidationError, match=NAME_ERROR):
        page.full_clean()
    tenant = Tenant(name=name, slug="acme")
    with pytest.raises(ValidationError, match=NAME_ERROR):
        tenant.full_clean()


def test_ordinary_names_with_accents_and_punctuation_are_kept(page):
    page.name = "Café Ünïcode & Co. — “status” 🚦"
    page.full_clean()
    Tenant(name="Société Générale (EU)", slug="sg").full_clean()


def settings_form(page, **changes):
    return {
        "name": page.name,
        "slug": page.slug,
        "custom_domain": page.custom_domain or "",
        "time_zone": page.time_zone,
        "company_url": page.company_url,
        "support_url": page.support_url,
        "accent_color": page.accent_color,
        **dict.fromkeys(SUBSCRIBER_SETTINGS, "on"),
        **changes,
    }


def test_the_console_settings_refuse_a_name_with_a_line_break(client, page, owner_a):
    client.force_login(owner_a)
    url = reverse("manage:settings", kwargs={"page_code": page.code})

    response = client.post(url, settings_form(page, name="Alpha\r\nBcc: everyone@example.com"))

    assert response.status_code == 200
    assert NAME_ERROR in response.text
    assert Page.objects.get(pk=page.pk).name == "Alpha"


def test_a_new_page_with_a_control_character_in_its_name_is_refused(client, tenant_a, owner_a):
    client.force_login(owner_a)

    response = client.post(
        "/manage/", {"tenant": tenant_a.slug, "name": "Beta\x07", "slug": "beta"}
    )

    assert response.status_code == 200
    assert NAME_ERROR in response.text
    assert not Page.objects.filter(slug="beta").exists()


def test_signup_refuses_a_company_name_with_a_line_break(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "founder@example.com",
            "company": "Example\nCorp",
            "page_slug": "example",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
        },
    )

    assert response.status_code == 200
    assert NAME_ERROR in response.text
    assert not get_user_model().objects.exists()
    assert not Page.objects.filter(slug="example").exists()


# HSTS preload is a promise for years: only when the operator makes it.

PRODUCTION = {
    "SECRET_KEY": "k3v9-QpL2_xR8mZt0wYc5#nHs7uBf4eJa6gDi1oKl!TbVr-Wq3Ez",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "status.example.com",
    "SITE_URL": "https://status.example.com",
    "DATABASE_URL": "postgres://heliograph:secret@db.internal:5432/heliograph",
    "REDIS_URL": "redis://cache.internal:6379/0",
}
PRINT_HSTS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps([settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_PRELOAD]))
"""


def run(args, **extra):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env = {**keep, "DJANGO_SETTINGS_MODULE": "config.settings", **PRODUCTION, **extra}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_hsts_preload_is_off_unless_configured_and_the_deploy_check_still_passes():
    default = run(["-c", PRINT_HSTS])
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout) == [31536000, False]
    check = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert check.returncode == 0, check.stdout + check.stderr

    preloaded = run(["-c", PRINT_HSTS], SECURE_HSTS_PRELOAD="true")
    assert json.loads(preloaded.stdout) == [31536000, True]
    check = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], SECURE_HSTS_PRELOAD="true"
    )
    assert check.returncode == 0, check.stdout + check.stderr
