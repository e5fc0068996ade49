"""Team (members, roles, invitations), API keys and the audit log, under /manage/<page_code>/.

Membership has no public code yet, so members are addressed by their membership id, always
looked up within the page's tenant.
"""

from django.urls import path

from status import team

urlpatterns = [
    path("team/", team.team, name="team"),
    path("team/members/<str:member_code>/role/", team.member_role, name="member-role"),
    path("team/members/<str:member_code>/remove/", team.member_remove, name="member-remove"),
    path("team/invitations/", team.invite_create, name="invite-create"),
    path(
        "team/invitations/<str:invitation_code>/revoke/",
        team.invite_revoke,
        name="invite-revoke",
    ),
    path("api-keys/", team.api_keys, name="api-keys"),
    path("api-keys/new/", team.api_key_create, name="api-key-create"),
    path("api-keys/<str:key_code>/revoke/", team.api_key_revoke, name="api-key-revoke"),
    path("audit/", team.audit_log, name="audit"),
]
