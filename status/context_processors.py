from django.conf import settings

from status.htmx import SubmitOnce


def site(request):
    return {"SITE_NAME": settings.SITE_NAME, "submit_once": SubmitOnce()}
