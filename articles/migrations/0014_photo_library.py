"""
The photo library: images stored once, described once (alt text, caption, credit)
and placed as figures in any number of articles. Figures gain a link to a photo
here; 0015 moves each figure's own image into the library and 0016 drops the
figure's image columns.
"""

import articles.fields
import django.db.models.deletion
import safetext.validators
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('articles', '0013_article_figures'),
    ]

    operations = [
        migrations.CreateModel(
            name='Photo',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('image', articles.fields.CleanImageField(help_text='JPEG, PNG, WebP or GIF. Location and camera data are removed on upload; smaller copies for phones are made automatically.', renditions_field='renditions', size_fields=('width', 'height'), upload_to='photos/%Y/%m/')),
                ('alt', models.CharField(help_text='What the image shows, for readers who cannot see it. Also how writers find it in the library.', max_length=250, verbose_name='alt text')),
                ('caption', models.CharField(blank=True, help_text='Shown under the image; a figure may give its own instead.', max_length=300)),
                ('credit', models.CharField(blank=True, help_text='e.g. "Photo: Ani Petrosyan"', max_length=150)),
                ('width', models.PositiveIntegerField(blank=True, editable=False, null=True)),
                ('height', models.PositiveIntegerField(blank=True, editable=False, null=True)),
                ('renditions', models.JSONField(blank=True, default=dict, editable=False, help_text='Resized WebP copies of the image, by width.')),
                ('uploaded_at', models.DateTimeField(auto_now_add=True)),
                ('uploaded_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='photos_uploaded', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'photo',
                'verbose_name_plural': 'photo library',
                'ordering': ['-uploaded_at', '-id'],
                'get_latest_by': 'uploaded_at',
            },
            bases=(safetext.validators.CheckedTextMixin, models.Model),
        ),
        migrations.AddField(
            model_name='figure',
            name='photo',
            field=models.ForeignKey(help_text='Type to search the library by alt text, caption or credit; + uploads a new image.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='figures', to='articles.photo'),
        ),
    ]
