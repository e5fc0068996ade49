"""Comparing what public views show across pages or versions, whatever the ids: the public ids
(codes) in a rendering, renamed either by order of appearance (against a stored reference) or
through a known correspondence (a copy of a page against its original)."""

import re

from django.apps import apps

# A public id: twelve lower-case letters and digits (status.models.new_code).
CODE = re.compile(r"\b[a-z0-9]{12}\b")


def all_codes():
    """Every public id in the database."""
    codes = set()
    for model in apps.get_models():
        if any(field.name == "code" for field in model._meta.fields):
            codes.update(model.objects.values_list("code", flat=True))
    return codes


def by_appearance(text, codes, known):
    """`text` with every id in `known` replaced by its order of first appearance (`codes`, a
    dict shared across the texts compared, collects the names given so far)."""

    def name(match):
        value = match.group(0)
        if value not in known:
            return value  # a plain 12-letter word
        return codes.setdefault(value, f"<id{len(codes)}>")

    return CODE.sub(name, text)


def by_identity(text, names):
    """`text` with each id in `names` replaced by its name there; any other id stays as it is,
    so an id of the wrong object, or of another page, shows as a difference."""
    return CODE.sub(lambda match: names.get(match.group(0), match.group(0)), text)
