"""The subscribers and delivery log of the console, under /manage/<page_code>/."""

from django.urls import path

from notifications import console

urlpatterns = [
    path("subscribers/", console.subscribers, name="subscribers"),
    path("subscribers/export.csv", console.subscribers_export, name="subscribers-export"),
    path("subscribers/new/", console.subscriber_create, name="subscriber-create"),
    path(
        "subscribers/<str:subscriber_code>/",
        console.subscriber_detail,
        name="subscriber-detail",
    ),
    path(
        "subscribers/<str:subscriber_code>/remove/",
        console.subscriber_remove,
        name="subscriber-remove",
    ),
    path(
        "subscribers/<str:subscriber_code>/reactivate/",
        console.subscriber_reactivate,
        name="subscriber-reactivate",
    ),
    path("deliveries/", console.deliveries, name="deliveries"),
    path("deliveries/<str:event_code>/", console.event_detail, name="event-detail"),
    path(
        "deliveries/<str:event_code>/<str:subscriber_code>/resend/",
        console.delivery_resend,
        name="delivery-resend",
    ),
]
