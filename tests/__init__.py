import pytest

# Helper modules that assert (tests/html.py's `visible`, `Element.find`) get pytest's assertion
# rewriting, as test modules and conftests do: a failure there shows the values compared.
pytest.register_assert_rewrite(
    "tests.factories", "tests.html", "tests.records", "tests.browser.helpers"
)
