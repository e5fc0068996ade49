"""Who may reach what. Every view is marked with how it is reached (`view.access`):

- "public": anyone (public pages, sign-in); pages come from status.hosts.public_page;
- "tenant": a member of the page's tenant, through `page_member`;
- "platform": platform staff (the Django admin).

tests/status/test_routes.py fails on any URL whose view carries no mark.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from status.models import Membership, Page, Role


def public_view(view):
    view.access = "public"
    return view


def get_page_for_member(user, page_code):
    """The page with this code if `user` is a member of its tenant; 404 otherwise.

    The membership is attached as `page.membership`.
    """
    page = Page.objects.select_related("tenant").filter(code=page_code).first()
    if page is None or not user.is_authenticated:
        raise Http404("No such page")
    membership = Membership.objects.filter(user=user, tenant_id=page.tenant_id).first()
    if membership is None:
        # Another tenant's page looks exactly like one that does not exist.
        raise Http404("No such page")
    page.membership = membership
    return page


def page_member(role=Role.VIEWER):
    """Views of one page of the console: `view(request, page, ...)` for members with `role`.

    Non-members get 404; members whose role is too low get 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, page_code, *args, **kwargs):
            page = get_page_for_member(request.user, page_code)
            if not page.membership.allows(role):
                raise PermissionDenied(f"This needs the {Role(role).label.lower()} role.")
            return view(request, page, *args, **kwargs)

        wrapped = login_required(wrapper)
        wrapped.access = "tenant"
        return wrapped

    return decorator


def tenant_view(view):
    """A console view that is not about one page (e.g. the list of the user's pages)."""
    wrapped = login_required(view)
    wrapped.access = "tenant"
    return wrapped
