"""
Article.search_vector: the full-text document, stored and indexed, on PostgreSQL.

Search used to match and rank on an expression (0003's index), so PostgreSQL parsed
the title, standfirst and body of every candidate row again, to recheck and to rank.
Now a trigger stores that document in search_vector whenever a row is inserted or
title, standfirst, body or search_vector itself is written, so every way of writing
a row (save, update(), bulk_create, bulk_update, loaddata, raw SQL) keeps it right,
and search reads it from the GIN index below.

Why a trigger and not a GeneratedField (djangoproject.com's docs search, which runs
only on PostgreSQL, uses one): the same models migrate on SQLite, which has no
to_tsvector, and a generated column would need different SQL per vendor. The column
is therefore a plain one everywhere and only PostgreSQL gets the trigger and the
index (always NULL on SQLite, whose search has its own index: 0006). Change the weights or
the configuration in a new migration that replaces the function and sets
search_vector = NULL to refill every row; the configuration must stay the one
articles.search.SEARCH_CONFIG queries with. To remove the field, drop the trigger
and the function first.
"""

import django.contrib.postgres.search
from django.db import migrations

OLD_INDEX_NAME = "article_search_idx"
INDEX_NAME = "article_search_vector_idx"
FUNCTION_NAME = "article_search_vector_update"
TRIGGER_NAME = "article_search_vector_update"

FORWARD_SQL = [
    # 0003's expression index: search no longer uses it.
    f"DROP INDEX IF EXISTS {OLD_INDEX_NAME}",
    f"""
    CREATE FUNCTION {FUNCTION_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector :=
            setweight(to_tsvector('english', COALESCE(NEW.title, '')), 'A')
            || setweight(to_tsvector('english', COALESCE(NEW.standfirst, '')), 'B')
            || setweight(to_tsvector('english', COALESCE(NEW.body, '')), 'C');
        RETURN NEW;
    END
    $$
    """,
    # Not on other columns: the comments app's comment_count updates, for one,
    # need not parse the body again. search_vector is in the list so that a write
    # of a stale value (a full save() writes the instance's, which is never
    # refreshed) is replaced by the right one.
    f"""
    CREATE TRIGGER {TRIGGER_NAME}
    BEFORE INSERT OR UPDATE OF title, standfirst, body, search_vector
    ON articles_article
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION_NAME}()
    """,
    # Existing rows: the trigger computes each one's document.
    "UPDATE articles_article SET search_vector = NULL",
    # search_articles(): search_vector @@ the reader's query.
    f"CREATE INDEX {INDEX_NAME} ON articles_article USING GIN (search_vector)",
]

BACKWARD_SQL = [
    f"DROP INDEX IF EXISTS {INDEX_NAME}",
    f"DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON articles_article",
    f"DROP FUNCTION IF EXISTS {FUNCTION_NAME}()",
    # 0003's index, as 0003 made it.
    f"""
    CREATE INDEX IF NOT EXISTS {OLD_INDEX_NAME} ON articles_article USING GIN ((
        (setweight(to_tsvector('english'::regconfig, COALESCE("title", '')), 'A')
         || setweight(
             to_tsvector('english'::regconfig, COALESCE("standfirst", '')), 'B'
         ))
        || setweight(to_tsvector('english'::regconfig, COALESCE("body", '')), 'C')
    ))
    """,
]


def create_trigger_and_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD_SQL:
            schema_editor.execute(sql)


def drop_trigger_and_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD_SQL:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0004_published_has_time"),
    ]

    operations = [
        migrations.AddField(
            model_name="article",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(
                editable=False, null=True
            ),
        ),
        migrations.RunPython(
            create_trigger_and_index, drop_trigger_and_index, elidable=False
        ),
    ]
