from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from status.models import ApiKey


def test_createapikey_prints_a_working_key_alone_on_its_last_line(tenant_a):
    out = StringIO()
    call_command("createapikey", "alpha", "--name", "Deploy bot", stdout=out, stderr=StringIO())
    secret = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.authenticate(secret)
    assert key.tenant == tenant_a
    assert key.name == "Deploy bot"


def test_createapikey_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError):
        call_command("createapikey", "nobody", "--name", "x", stdout=StringIO())
