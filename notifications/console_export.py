"""The console's export of a page (owners): a page saying what the download holds, and the
download itself (notifications/portability.py; the README's "Export and restore")."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from notifications.portability import export_download
from status.models import Role
from status.tenancy import page_member


@page_member(role=Role.OWNER)
@require_GET
def page_export(request, page):
    """GET: the explanation and the download buttons; with ?download=1 (and
    &include_secrets=1), the document as a file."""
    if request.GET.get("download") != "1":
        return render(request, "manage/export/export.html", {"page": page})
    include_secrets = request.GET.get("include_secrets") == "1"
    return export_download(page, include_secrets=include_secrets, by=request.user)
