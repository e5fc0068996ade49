import pytest


@pytest.fixture
def editor(client, editor_a):
    """The test client, signed in as tenant A's editor."""
    client.force_login(editor_a)
    return client
