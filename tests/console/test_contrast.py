"""Light and dark themes meet WCAG 2.1 AA contrast: 4.5:1 for text, 3:1 for large text and
for the coloured parts of controls and graphics (uptime bars, legend swatches). Computed from
the custom properties of static/css/heliograph.css, which every colour below comes from."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from status.templatetags.heliograph import DARK_BACKGROUNDS, LIGHT_BACKGROUNDS, contrast

CSS = (Path(settings.BASE_DIR) / "static" / "css" / "heliograph.css").read_text()
STATUSES = ["operational", "degraded", "partial", "major", "maintenance"]


def custom_properties(block):
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\b", block))


def theme(name):
    """The custom properties in effect: :root's, with the dark media query's over them."""
    light = custom_properties(re.search(r"^:root\s*\{(.*?)\}", CSS, re.S | re.M).group(1))
    if name == "light":
        return light
    dark = re.search(r"@media \(prefers-color-scheme: dark\)\s*\{\s*:root\s*\{(.*?)\}", CSS, re.S)
    return {**light, **custom_properties(dark.group(1))}


# WCAG's contrast ratio, as the public pages compute it for a page's own accent colour.
ratio = contrast


def text_pairs():
    """(what, foreground, background) for text of normal size."""
    pairs = [
        ("body text", "text", "bg"),
        ("body text on cards", "text", "surface"),
        ("muted text", "muted", "bg"),
        ("muted text on cards", "muted", "surface"),
        ("links", "accent", "bg"),
        ("links on cards, secondary buttons", "accent", "surface"),
        ("primary buttons", "accent-text", "accent"),
        ('the "Declare incident" (danger) button', "on-status", "major"),
    ]
    for status in STATUSES:
        pairs.append((f"{status} status words", status, "surface"))
        pairs.append((f"{status} status words on the page", status, "bg"))
        pairs.append((f"the {status} banner", "on-status", status))
    return pairs


def test_the_stylesheet_defines_every_colour_the_pairs_name():
    for name in ("light", "dark"):
        colours = theme(name)
        for _, foreground, background in text_pairs():
            assert foreground in colours and background in colours, (name, foreground, background)


@pytest.mark.parametrize("name", ["light", "dark"])
@pytest.mark.parametrize(("what", "foreground", "background"), text_pairs())
def test_text_meets_aa(name, what, foreground, background):
    colours = theme(name)
    contrast = ratio(colours[foreground], colours[background])
    assert contrast >= 4.5, f"{what} in {name} mode: {contrast:.2f}:1"


@pytest.mark.parametrize("name", ["light", "dark"])
@pytest.mark.parametrize("status", STATUSES)
def test_status_bars_and_swatches_stand_out_from_the_page(name, status):
    colours = theme(name)
    for background in ("bg", "surface"):
        contrast = ratio(colours[status], colours[background])
        assert contrast >= 3, f"{status} on {background} in {name} mode: {contrast:.2f}:1"


def test_the_numbers_the_issue_reported_are_fixed():
    light, dark = theme("light"), theme("dark")
    assert ratio(dark["on-status"], dark["major"]) >= 4.5  # was 2.4:1 (white on light red)
    assert ratio(light["degraded"], light["surface"]) >= 4.5  # was 3.6:1
    assert ratio(light["operational"], light["surface"]) >= 4.5  # was 4.4:1


def test_a_ratio_is_computed_as_wcag_defines_it():
    assert ratio("#000000", "#ffffff") == pytest.approx(21)
    assert ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_a_pages_accent_is_made_readable_on_the_stylesheets_own_backgrounds():
    """status/templatetags/heliograph.py adjusts a page's accent against these colours: they
    must be the stylesheet's --bg and --surface of each theme."""
    for name, backgrounds in [("light", LIGHT_BACKGROUNDS), ("dark", DARK_BACKGROUNDS)]:
        colours = theme(name)
        assert {colours["bg"].lower(), colours["surface"].lower()} == set(backgrounds)
