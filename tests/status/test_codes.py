import re

from status.models import Component, ComponentGroup, Page, new_code

CODE = re.compile(r"^[a-z0-9]{12}$")


def test_codes_are_twelve_lowercase_base36_characters_and_unique(tenant_a, tenant_b):
    codes = [
        *Page.objects.values_list("code", flat=True),
        *ComponentGroup.objects.values_list("code", flat=True),
        *Component.objects.values_list("code", flat=True),
    ]
    assert len(codes) == 2 + 2 + 4
    assert all(CODE.match(code) for code in codes)
    assert len(set(codes)) == len(codes)


def test_generated_codes_do_not_repeat():
    codes = {new_code() for _ in range(20000)}
    assert len(codes) == 20000
    assert all(CODE.match(code) for code in codes)


def test_console_urls_use_codes_not_primary_keys(client, tenant_a, owner_a):
    client.force_login(owner_a)
    page = tenant_a.page
    response = client.get("/manage/")
    assert f"/manage/{page.code}/" in response.text
    assert client.get(f"/manage/{page.pk}/").status_code == 404
