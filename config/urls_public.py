"""The public URLs of one status page.

Served under /p/<page_slug>/ on the main site (config/urls.py) and at the root of the page's own
host (config/urls_page.py); views take the page through status.hosts.public_page.
"""

from django.urls import path

from status import views as status_views

app_name = "public"

urlpatterns = [
    path("", status_views.status_page, name="page"),
]
