"""Atom and RSS feeds of a page's incidents and maintenance, one entry per incident with its
updates as the content (as Statuspage's feeds do)."""

from django.contrib.syndication.views import Feed
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.translation import gettext

from incidents.models import Incident, IncidentUpdate
from status.hosts import public_page

FEED_ITEMS = 50


class HistoryFeed(Feed):
    feed_type = Rss201rev2Feed

    def get_object(self, request, page):
        return page

    def title(self, page):
        # In the reader's language (status/languages.py), as the page.
        return gettext("%(name)s Status - Incident History") % {"name": page.name}

    def link(self, page):
        return page.public_url()

    def description(self, page):
        return gettext("Incidents and scheduled maintenance of %(name)s.") % {"name": page.name}

    def items(self, page):
        incidents = (
            Incident.objects.filter(page=page)
            .prefetch_related(
                Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
            )
            .order_by("-started_at", "-id")[:FEED_ITEMS]
        )
        for incident in incidents:
            incident.feed_page = page
        return incidents

    def item_title(self, incident):
        return incident.name

    def item_description(self, incident):
        return render_to_string(
            "public/feed_item.html", {"incident": incident, "page": incident.feed_page}
        )

    def item_link(self, incident):
        return incident.feed_page.public_url(f"incidents/{incident.code}/")

    def item_guid(self, incident):
        return self.item_link(incident)

    def item_pubdate(self, incident):
        return incident.started_at

    def item_updateddate(self, incident):
        return incident.updated_at


class AtomHistoryFeed(HistoryFeed):
    feed_type = Atom1Feed
    subtitle = HistoryFeed.description


@public_page
def rss(request, page):
    return HistoryFeed()(request, page=page)


@public_page
def atom(request, page):
    return AtomHistoryFeed()(request, page=page)
