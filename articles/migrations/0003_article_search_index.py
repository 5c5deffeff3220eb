"""
The full-text search index, on PostgreSQL only.

A GIN index on the weighted title, standfirst and body document search matched
against at the time, so search on PostgreSQL read the index instead of parsing every
body. 0005_article_search_vector replaced it with a stored column and drops it;
SQLite gets nothing here (0006_sqlite_search_index). Hand-written: the expression
index depends on the database vendor, which a model Meta cannot say.
"""

from django.db import migrations

INDEX_NAME = "article_search_idx"

CREATE_SQL = f"""
CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON articles_article USING GIN ((
    (setweight(to_tsvector('english'::regconfig, COALESCE("title", '')), 'A')
     || setweight(to_tsvector('english'::regconfig, COALESCE("standfirst", '')), 'B'))
    || setweight(to_tsvector('english'::regconfig, COALESCE("body", '')), 'C')
))
"""

DROP_SQL = f"DROP INDEX IF EXISTS {INDEX_NAME}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0002_roles"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
