"""`GET /api/v1/pages/<page>/export`: the page as one JSON document (notifications/portability.py;
the README's "Export and restore"), for any of the tenant's keys (keys act as an owner).
`?include_secrets=true` adds webhooks' signing secrets, subscribers' link tokens and chat URLs.
The plumbing is status/api.py's, the URL in config/urls_api.py."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers

from notifications.portability import export_download
from status.api import endpoint, get_page
from status.api_schema import with_errors

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class PageExportSchema(serializers.Serializer):
    """The export document (format heliograph.page); its parts are described in the README."""

    format = serializers.CharField(help_text="heliograph.page")
    version = serializers.IntegerField(help_text="The format's version: 1.")
    exported_at = serializers.DateTimeField()
    includes_secrets = serializers.BooleanField()
    page = serializers.DictField()
    groups = serializers.ListField(child=serializers.DictField())
    components = serializers.ListField(child=serializers.DictField())
    metrics = serializers.ListField(child=serializers.DictField())
    incidents = serializers.ListField(child=serializers.DictField())
    incident_templates = serializers.ListField(child=serializers.DictField())
    subscribers = serializers.ListField(child=serializers.DictField())


@extend_schema(
    operation_id="pages_export",
    parameters=[
        OpenApiParameter(
            "include_secrets",
            OpenApiTypes.BOOL,
            description="Add webhooks' signing secrets, subscribers' link tokens and chat URLs.",
        )
    ],
    responses=with_errors({200: PageExportSchema}),
)
@endpoint("GET")
def page_export(request, page_code):
    # Keys act with an owner's rights (only owners create them), so any key of the tenant.
    page = get_page(request, page_code)
    value = request.query_params.get("include_secrets", "").strip().lower()
    if value not in TRUE + FALSE:
        raise exceptions.ParseError("include_secrets must be true or false.")
    include_secrets = value in TRUE
    return export_download(page, include_secrets=include_secrets, by=request.auth)
