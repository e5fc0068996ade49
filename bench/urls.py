"""The site's URLs plus /bare/<name>/, the baseline the cached page is measured against."""

from django.urls import path

from bench import views
from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("bare/<slug:name>/", views.bare), *site_urlpatterns]
