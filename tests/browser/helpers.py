"""What browser tests do with a tab (tests/browser/conftest.py): `sign_in(tab, username)` signs in
through the login form. Set SCREENSHOTS=<directory> to have `shot(tab, name)` save full-page
screenshots there (for a human to look at; nothing checks them).
"""

import os
import re
from pathlib import Path

from tests.factories import PASSWORD


def sign_in(tab, username, password=PASSWORD):
    tab.goto("/accounts/login/")
    tab.get_by_label("Email or username").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/manage/**")


def csrf_token(tab):
    """The CSRF cookie of the tab's context, as a script on the page could read it."""
    cookies = {cookie["name"]: cookie["value"] for cookie in tab.context.cookies()}
    return cookies["csrftoken"]


def shot(tab, name):
    """A full-page screenshot in $SCREENSHOTS/<name>.png, when SCREENSHOTS is set."""
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "-", name)
        tab.screenshot(path=str(Path(directory) / f"{safe}.png"), full_page=True)
