"""The subscribers list of the console, under /manage/<page_code>/."""

from django.urls import path

from notifications import console

urlpatterns = [
    path("subscribers/", console.subscribers, name="subscribers"),
    path("subscribers/export.csv", console.subscribers_export, name="subscribers-export"),
    path(
        "subscribers/<str:subscriber_code>/remove/",
        console.subscriber_remove,
        name="subscriber-remove",
    ),
]
