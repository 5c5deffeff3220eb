import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def _codenames(group_name):
    group = Group.objects.get(name=group_name)
    return set(group.permissions.values_list("codename", flat=True))


def test_writers_may_draft_but_not_publish_or_delete():
    codenames = _codenames("Writers")
    assert {"add_article", "change_article", "view_article"} <= codenames
    assert "publish_article" not in codenames
    assert "delete_article" not in codenames


def test_editors_may_publish_and_manage_categories_and_redirects():
    codenames = _codenames("Editors")
    assert {"publish_article", "delete_article", "change_category"} <= codenames
    assert {"change_author", "delete_slugredirect", "change_tag"} <= codenames
