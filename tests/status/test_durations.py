from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template import engines

from status.templatetags.heliograph import human_duration, time_ago

NOW = datetime(2026, 4, 1, 5, 26, tzinfo=UTC)
GUAYAQUIL = ZoneInfo("America/Guayaquil")


def render(source, **context):
    return engines["django"].from_string("{% load heliograph %}" + source).render(context)


# human_duration


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "less than a minute"),
        (59, "less than a minute"),
        (60, "1 minute"),
        (119, "1 minute"),
        (12 * 60, "12 minutes"),
        (3600, "1 hour"),
        (61 * 60, "1 hour 1 minute"),
        (2 * 3600, "2 hours"),
        (3 * 3600 + 5 * 60, "3 hours 5 minutes"),
        (86400, "1 day"),
        (26 * 3600, "1 day 2 hours"),
        (26 * 3600 + 59 * 60, "1 day 2 hours"),
        (2 * 86400 + 4 * 3600, "2 days 4 hours"),
    ],
)
def test_human_duration_says_how_long_in_words(seconds, words):
    assert human_duration(seconds) == words


def test_human_duration_takes_a_timedelta():
    assert human_duration(timedelta(hours=1, minutes=1)) == "1 hour 1 minute"
    assert human_duration(timedelta(seconds=59.9)) == "less than a minute"
    assert human_duration(timedelta(days=1, hours=2)) == "1 day 2 hours"


def test_human_duration_of_nothing_is_empty():
    assert human_duration(None) == ""


def test_human_duration_works_as_a_template_filter():
    assert render("{{ d|human_duration }}", d=timedelta(minutes=61)) == "1 hour 1 minute"


# time_ago


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(0), "less than a minute ago"),
        (timedelta(seconds=30), "less than a minute ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=5), "5 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=3, minutes=20), "3 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=9), "9 days ago"),
        (timedelta(days=243), "8 months ago"),
        (timedelta(days=365), "1 year ago"),
        (timedelta(days=2 * 365 + 10), "2 years ago"),
    ],
)
def test_time_ago_says_how_long_ago_in_words(ago, words):
    assert time_ago(NOW - ago, NOW) == words


@pytest.mark.parametrize(
    ("ahead", "words"),
    [
        (timedelta(seconds=30), "in less than a minute"),
        (timedelta(minutes=5), "in 5 minutes"),
        (timedelta(hours=2, minutes=30), "in 2 hours 30 minutes"),
        (timedelta(days=3), "in 3 days"),
    ],
)
def test_time_ago_of_a_future_time_says_in_how_long(ahead, words):
    assert time_ago(NOW + ahead, NOW) == words


def test_time_ago_counts_from_the_current_time_without_an_explicit_now():
    with time_machine.travel(NOW, tick=False):
        assert time_ago(NOW - timedelta(minutes=5)) == "5 minutes ago"


def test_time_ago_of_nothing_is_empty():
    assert time_ago(None, NOW) == ""


def test_time_ago_works_as_a_template_filter_with_now():
    rendered = render("{{ when|time_ago:now }}", when=NOW - timedelta(days=9), now=NOW)

    assert rendered == "9 days ago"


# local_time and relative_time


def test_local_time_shows_the_instant_in_the_page_time_zone():
    rendered = render("{% local_time when tz %}", when=NOW, tz=GUAYAQUIL)

    assert rendered.startswith('<time datetime="2026-04-01T00:26:00-05:00" ')
    assert rendered.endswith(">Apr 1, 2026, 12:26 AM -05</time>")
    assert 'title="Wednesday, April 1, 2026, 12:26:00 AM' in rendered


def test_local_time_takes_a_format():
    rendered = render('{% local_time when tz "g:i A" %}', when=NOW, tz=GUAYAQUIL)

    assert rendered.endswith(">12:26 AM</time>")
    assert 'datetime="2026-04-01T00:26:00-05:00"' in rendered


def test_local_time_follows_daylight_saving_time():
    paris = ZoneInfo("Europe/Paris")

    winter = render(
        '{% local_time when tz "H:i" %}', when=datetime(2026, 1, 15, 12, tzinfo=UTC), tz=paris
    )
    summer = render(
        '{% local_time when tz "H:i" %}', when=datetime(2026, 7, 15, 12, tzinfo=UTC), tz=paris
    )

    assert 'datetime="2026-01-15T13:00:00+01:00"' in winter
    assert winter.endswith(">13:00</time>")
    assert 'datetime="2026-07-15T14:00:00+02:00"' in summer
    assert summer.endswith(">14:00</time>")


def test_local_time_of_nothing_is_empty():
    assert render("{% local_time when tz %}", when=None, tz=GUAYAQUIL) == ""


def test_relative_time_wraps_the_words_in_a_local_time_element():
    rendered = render(
        "{% relative_time when tz now %}", when=NOW, tz=GUAYAQUIL, now=NOW + timedelta(days=9)
    )

    assert rendered.startswith('<time datetime="2026-04-01T00:26:00-05:00" ')
    assert rendered.endswith(">9 days ago</time>")
