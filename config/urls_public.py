"""The public URLs of one status page.

Served under /p/<page_slug>/ on the main site (config/urls.py) and at the root of the page's own
host (config/urls_page.py); views take the page through status.hosts.public_page.
"""

from django.urls import path

from incidents import feeds
from incidents import views as incident_views
from notifications import views as notification_views

app_name = "public"

urlpatterns = [
    path("", incident_views.status_page, name="page"),
    path("incidents/<str:code>/", incident_views.incident_page, name="incident"),
    path("history/", incident_views.history, name="history"),
    path("history.atom", feeds.atom, name="history-atom"),
    path("history.rss", feeds.rss, name="history-rss"),
    path("subscribe/", notification_views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", notification_views.confirm, name="subscribe-confirm"),
    path("subscribe/manage/<str:token>/", notification_views.manage, name="subscribe-manage"),
    path("subscribe/unsubscribe/<str:token>/", notification_views.unsubscribe, name="unsubscribe"),
]
