"""
Full-text search on SQLite: an FTS5 index of every article's title, standfirst and
body, kept in step with articles_article by triggers.

Search on SQLite used to scan every row with LIKE (110 ms on 10,000 articles); it
now asks this index (articles.search). The index is "external content": it stores
only the index, and reads the text from articles_article. The triggers cover every
way of writing a row (save, update(), bulk_create, loaddata, raw SQL), as 0005's
trigger does on PostgreSQL, which needs nothing here.

Django's SQLite schema editor rebuilds a table to alter it (a new table, the rows
copied, the old one dropped): that drops these triggers with it. A later migration
that alters articles_article on SQLite must create them again (call
create_search_index() from here); tests/test_search.py checks they exist.
"""

from django.db import migrations

TABLE = "article_search"

FORWARD_SQL = [
    f"""
    CREATE VIRTUAL TABLE {TABLE} USING fts5(
        title, standfirst, body,
        content='articles_article', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    f"""
    CREATE TRIGGER {TABLE}_insert AFTER INSERT ON articles_article BEGIN
        INSERT INTO {TABLE}(rowid, title, standfirst, body)
        VALUES (new.id, new.title, new.standfirst, new.body);
    END
    """,
    f"""
    CREATE TRIGGER {TABLE}_delete AFTER DELETE ON articles_article BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, standfirst, body)
        VALUES ('delete', old.id, old.title, old.standfirst, old.body);
    END
    """,
    # Not on other columns: comment counts and the like need no re-indexing.
    f"""
    CREATE TRIGGER {TABLE}_update AFTER UPDATE OF title, standfirst, body
    ON articles_article BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, standfirst, body)
        VALUES ('delete', old.id, old.title, old.standfirst, old.body);
        INSERT INTO {TABLE}(rowid, title, standfirst, body)
        VALUES (new.id, new.title, new.standfirst, new.body);
    END
    """,
    # Existing rows.
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
]

BACKWARD_SQL = [
    f"DROP TRIGGER IF EXISTS {TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {TABLE}_update",
    f"DROP TABLE IF EXISTS {TABLE}",
]


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in BACKWARD_SQL + FORWARD_SQL:
            schema_editor.execute(sql)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in BACKWARD_SQL:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0005_article_search_vector"),
    ]

    operations = [
        migrations.RunPython(create_search_index, drop_search_index, elidable=False),
    ]
