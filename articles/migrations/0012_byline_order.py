from importlib import import_module

from django.db import migrations, models
import django.db.models.deletion

# Removing the old many-to-many rebuilds articles_article on SQLite, which drops
# the search index's triggers: 0006 creates them again.
search_index = import_module("articles.migrations.0006_sqlite_search_index")


def copy_bylines(apps, schema_editor):
    """Keep every existing byline, in the order its authors were added."""
    Article = apps.get_model("articles", "Article")
    Byline = apps.get_model("articles", "Byline")
    rows = Article.authors.through.objects.order_by("article_id", "id")
    positions = {}
    bylines = []
    for row in rows:
        position = positions.get(row.article_id, 0)
        positions[row.article_id] = position + 1
        bylines.append(
            Byline(article_id=row.article_id, author_id=row.author_id, position=position)
        )
    Byline.objects.bulk_create(bylines)


def copy_back(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    Byline = apps.get_model("articles", "Byline")
    Article.authors.through.objects.bulk_create(
        Article.authors.through(article_id=b.article_id, author_id=b.author_id)
        for b in Byline.objects.order_by("article_id", "position", "id")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0011_corrections_and_visible_update_time"),
    ]

    operations = [
        migrations.CreateModel(
            name="Byline",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField(default=0, help_text="Lower numbers come first in the byline.")),
                ("article", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="bylines", to="articles.article")),
                ("author", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="bylines", to="articles.author")),
            ],
            options={
                "verbose_name": "byline",
                "verbose_name_plural": "bylines",
                "ordering": ["position", "id"],
                "constraints": [models.UniqueConstraint(fields=("article", "author"), name="byline_author_once")],
            },
        ),
        migrations.RunPython(copy_bylines, copy_back),
        migrations.RemoveField(model_name="article", name="authors"),
        migrations.AddField(
            model_name="article",
            name="authors",
            field=models.ManyToManyField(blank=True, related_name="articles", through="articles.Byline", to="articles.author"),
        ),
        migrations.RunPython(
            search_index.create_search_index, migrations.RunPython.noop
        ),
    ]
