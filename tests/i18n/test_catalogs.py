"""The translation catalogs (locale/<lang>/LC_MESSAGES/django.po) are complete and up to date:
every string translated and none fuzzy in every language, and `makemessages` would change no
.po file (run into a copy of the sources, so the tree is never touched)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.services import need

ROOT = Path(settings.BASE_DIR)
# The languages with a catalog (English is the source), as gettext names their folders.
CATALOGS = ["es", "pt_BR", "fr", "de"]
# What makemessages reads: the apps, the settings and the templates; never the virtualenv, the
# tests, the benchmarks or the deployment's scripts. README's "Languages" gives this command.
SOURCES = ["config", "status", "incidents", "notifications", "templates", "manage.py"]
MAKEMESSAGES = [
    "makemessages",
    *(f"--locale={lang}" for lang in CATALOGS),
    "--ignore=.venv",
    "--ignore=var",
    "--ignore=tests",
    "--ignore=bench",
    "--ignore=deploy",
]


def msgfmt():
    found = shutil.which("msgfmt")
    if found is None:
        need("GNU gettext's msgfmt (apt-get install gettext)")
    return found


def catalog(lang, root=ROOT):
    return root / "locale" / lang / "LC_MESSAGES" / "django.po"


def test_every_language_settings_offer_has_a_catalog():
    offered = [code for code, _name in settings.LANGUAGES if code != "en"]
    assert [code.replace("-br", "_BR") for code in offered] == CATALOGS
    for lang in CATALOGS:
        assert catalog(lang).is_file(), lang


@pytest.mark.parametrize("lang", CATALOGS)
def test_every_string_is_translated_and_none_is_fuzzy(lang):
    result = subprocess.run(
        [msgfmt(), "--check", "--statistics", "-o", "/dev/null", str(catalog(lang))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    statistics = result.stderr.strip()
    assert re.fullmatch(r"\d+ translated messages?\.", statistics), statistics


def without_creation_date(text):
    return re.sub(r'^"POT-Creation-Date: .*\n', "", text, flags=re.MULTILINE)


def test_makemessages_would_change_no_catalog(tmp_path):
    msgfmt()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, tmp_path / name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for lang in CATALOGS:
        made = without_creation_date(catalog(lang, tmp_path).read_text())
        assert made == without_creation_date(catalog(lang).read_text()), (
            f"locale/{lang}: run `python manage.py {' '.join(MAKEMESSAGES)}` and translate"
        )
