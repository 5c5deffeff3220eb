"""Image uploads: clear errors for bad files, no metadata kept, renditions made."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test.utils import isolate_apps
from PIL import Image

from articles.fields import CleanImageField
from articles.images import prepare_upload, rendition_widths, validate_upload
from tests.factories import make_article, make_author, no_inline_forms

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def image_bytes(fmt="JPEG", size=(640, 360), mode="RGB", exif=None, **save_args):
    image = Image.new(mode, size, (0, 128, 128, 100) if mode == "RGBA" else "teal")
    buffer = io.BytesIO()
    if exif is not None:
        save_args["exif"] = exif
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def upload(data, name="photo.jpg"):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def exif_with_gps(orientation=1):
    exif = Image.Exif()
    exif[MAKE] = "SourcePhone"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update(
        {1: "N", 2: (40.0, 10.0, 40.0), 3: "E", 4: (44.0, 30.0, 50.0)}
    )
    return exif


def png_header_only(width, height):
    """A tiny PNG file that claims to be width x height: what a decompression bomb
    looks like before it is decoded."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def error_of(data, name="photo.jpg"):
    with pytest.raises(ValidationError) as error:
        validate_upload(upload(data, name))
    return error.value


# Bad input: each gets a message that says what is wrong


def test_a_text_file_is_not_an_image():
    error = error_of(b"Minutes of the council meeting, not a photo.", "notes.jpg")

    assert error.code == "not_an_image"
    assert "not an image we can read" in error.messages[0]


def test_an_empty_file_is_refused():
    assert error_of(b"").code == "empty"


def test_a_format_outside_the_list_is_refused_by_name():
    error = error_of(image_bytes("BMP"), "scan.bmp")

    assert error.code == "unsupported_format"
    assert error.messages[0].startswith("BMP images are not accepted")


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.MAX_UPLOAD_SIZE = 1024
    data = image_bytes(size=(400, 400), quality=100)
    assert len(data) > 1024

    error = error_of(data)

    assert error.code == "file_too_large"
    assert "at most 1.0\xa0KB" in error.messages[0]


def test_an_image_with_too_many_pixels_is_refused_before_decoding(settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000

    error = error_of(png_header_only(2000, 1000), "wide.png")

    assert error.code == "too_many_pixels"
    assert "2000×1000 pixels" in error.messages[0]
    assert "limit is 1 megapixels" in error.messages[0]


def test_a_decompression_bomb_beyond_pillows_own_limit_is_refused():
    # 100,000 x 100,000 pixels: Pillow itself raises DecompressionBombError.
    error = error_of(png_header_only(100_000, 100_000), "bomb.png")

    assert error.code == "too_many_pixels"


def test_a_decompression_bomb_warning_is_treated_as_an_error(settings):
    # Between Pillow's warning and error thresholds (~89 and ~179 megapixels).
    settings.MAX_IMAGE_PIXELS = 500_000_000

    error = error_of(png_header_only(12_000, 10_000), "bomb.png")

    assert error.code == "too_many_pixels"


def test_a_truncated_image_is_reported_as_damaged():
    data = image_bytes(size=(800, 600), quality=95)

    error = error_of(data[: len(data) // 2])

    assert error.code == "damaged"
    assert "damaged or incomplete" in error.messages[0]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_the_four_accepted_formats_pass(fmt):
    validate_upload(upload(image_bytes(fmt, mode="RGB"), f"x.{fmt.lower()}"))


# Metadata


def test_exif_and_gps_are_gone_after_preparing():
    data = image_bytes(exif=exif_with_gps())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # test is real

    raw = prepare_upload(upload(data)).content.read()

    stored = Image.open(io.BytesIO(raw))
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info
    assert b"SourcePhone" not in raw


def test_png_text_chunks_are_gone():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "Taken at the source's home")
    data = image_bytes("PNG", pnginfo=info)

    assert b"source's home" in data
    raw = prepare_upload(upload(data, "x.png")).content.read()

    assert b"source's home" not in raw


def test_orientation_is_applied_before_the_tag_is_dropped():
    data = image_bytes(size=(200, 100), exif=exif_with_gps(orientation=6))

    prepared = prepare_upload(upload(data))

    assert (prepared.width, prepared.height) == (100, 200)


def test_a_gif_is_stored_as_png():
    prepared = prepare_upload(upload(image_bytes("GIF"), "clip.gif"))

    assert prepared.extension == "png"


# Renditions


@pytest.mark.parametrize(
    ("width", "expected"),
    [(1600, [480, 800, 1200]), (1200, [480, 800, 1200]), (900, [480, 800]),
     (300, [300])],
)  # fmt: skip
def test_renditions_are_never_wider_than_the_original(width, expected):
    assert rendition_widths(width) == expected


@pytest.mark.django_db
def test_saving_an_article_with_an_image_stores_a_clean_copy_and_renditions():
    data = image_bytes(size=(1600, 900), exif=exif_with_gps())
    article = make_article(
        image=ContentFile(data, name="Market Day.jpeg"), image_alt="A market"
    )

    article.refresh_from_db()
    assert article.image.name.startswith("articles/")
    assert article.image.name.endswith(".jpg")
    assert (article.image_width, article.image_height) == (1600, 900)
    with default_storage.open(article.image.name) as stored:
        assert dict(Image.open(stored).getexif()) == {}
    assert set(article.image_renditions) == {"480", "800", "1200"}
    for width, name in article.image_renditions.items():
        assert "/r/" in name and name.endswith(f"-{width}.webp")
        with default_storage.open(name) as rendition:
            image = Image.open(rendition)
            assert image.format == "WEBP"
            assert image.width == int(width)
            assert "exif" not in image.info


@pytest.mark.django_db
def test_a_transparent_png_keeps_its_transparency_in_renditions():
    data = image_bytes("PNG", size=(500, 500), mode="RGBA")
    article = make_article(image=ContentFile(data, name="logo.png"), image_alt="L")

    with default_storage.open(article.image_renditions["480"]) as rendition:
        assert Image.open(rendition).mode == "RGBA"


@pytest.mark.django_db
def test_saving_a_non_image_through_the_model_is_refused():
    with pytest.raises(ValidationError):
        make_article(image=ContentFile(b"not an image", name="x.jpg"), image_alt="x")


@pytest.mark.django_db
def test_removing_the_image_clears_size_and_renditions():
    data = image_bytes(size=(800, 450))
    article = make_article(image=ContentFile(data, name="a.jpg"), image_alt="A")

    article.image = None
    article.save()

    article.refresh_from_db()
    assert article.image_renditions == {}
    assert article.image_width is None


@pytest.mark.django_db
def test_saving_again_does_not_reprocess_the_image():
    data = image_bytes(size=(800, 450))
    article = make_article(image=ContentFile(data, name="a.jpg"), image_alt="A")
    renditions = dict(article.image_renditions)

    article.title = "New headline"
    article.save()

    assert article.image_renditions == renditions


@pytest.mark.django_db
def test_replacing_the_image_removes_the_old_files_after_commit(
    django_capture_on_commit_callbacks,
):
    article = make_article(
        image=ContentFile(image_bytes(size=(900, 500)), name="first.jpg"),
        image_alt="First",
    )
    old_files = [article.image.name, *article.image_renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        article.image = ContentFile(image_bytes(size=(900, 500)), name="second.jpg")
        article.save()

    assert not any(default_storage.exists(name) for name in old_files)
    assert default_storage.exists(article.image.name)
    assert all(default_storage.exists(n) for n in article.image_renditions.values())


@pytest.mark.django_db
def test_an_unchanged_image_is_kept_when_the_article_is_saved(
    django_capture_on_commit_callbacks,
):
    article = make_article(
        image=ContentFile(image_bytes(size=(900, 500)), name="keep.jpg"),
        image_alt="Keep",
    )

    with django_capture_on_commit_callbacks(execute=True):
        article.title = "Edited"
        article.save()

    assert default_storage.exists(article.image.name)


@pytest.mark.django_db
def test_deleting_an_article_removes_its_image_files(
    django_capture_on_commit_callbacks,
):
    article = make_article(
        image=ContentFile(image_bytes(size=(900, 500)), name="gone.jpg"),
        image_alt="Gone",
    )
    files = [article.image.name, *article.image_renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        article.delete()

    assert not any(default_storage.exists(name) for name in files)


# Every path into storage: the model field re-encodes whatever it stores


def stored_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_clean(name):
    with default_storage.open(name) as stored:
        raw = stored.read()
    image = Image.open(io.BytesIO(raw))
    assert dict(image.getexif()) == {}
    assert b"SourcePhone" not in raw


@pytest.mark.django_db
def test_an_image_saved_in_code_is_stripped_and_gets_renditions():
    article = make_article()

    article.image.save(
        "IMG_2041 GPS home.jpg",
        ContentFile(image_bytes(size=(1600, 900), exif=exif_with_gps())),
    )

    article.refresh_from_db()
    assert_clean(article.image.name)
    assert (article.image_width, article.image_height) == (1600, 900)
    assert set(article.image_renditions) == {"480", "800", "1200"}
    assert all(default_storage.exists(n) for n in article.image_renditions.values())


@pytest.mark.django_db
def test_an_author_photo_is_stripped_on_every_path():
    author = make_author(photo=ContentFile(image_bytes(exif=exif_with_gps()), "a.jpg"))
    assert_clean(author.photo.name)

    author.photo.save("b.jpg", ContentFile(image_bytes(exif=exif_with_gps())))

    author.refresh_from_db()
    assert_clean(author.photo.name)


@pytest.mark.django_db
def test_an_author_photo_that_is_not_an_image_is_refused():
    with pytest.raises(ValidationError):
        make_author(photo=ContentFile(b"not an image", name="me.jpg"))


@pytest.mark.django_db
def test_replacing_an_image_in_code_removes_the_old_files_after_commit(
    django_capture_on_commit_callbacks,
):
    article = make_article(
        image=ContentFile(image_bytes(size=(900, 500)), name="first.jpg"),
        image_alt="First",
    )
    old_files = [article.image.name, *article.image_renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        article.image.save("second.jpg", ContentFile(image_bytes(size=(900, 501))))

    assert not any(default_storage.exists(name) for name in old_files)
    assert default_storage.exists(article.image.name)


@pytest.mark.django_db
def test_an_image_is_stored_under_the_slug_never_the_uploaded_name():
    article = make_article(slug="harbour-works")
    author = make_author(slug="ani-petrosyan")

    article.image.save("IMG_2041 GPS home.jpg", ContentFile(image_bytes()))
    author.photo.save("IMG_2042 GPS home.jpg", ContentFile(image_bytes()))

    for name in [
        article.image.name,
        author.photo.name,
        *article.image_renditions.values(),
    ]:
        assert "IMG" not in name and "GPS" not in name and "home" not in name
    assert article.image.name.split("/")[-1].startswith("harbour-works-")
    assert author.photo.name.startswith("authors/ani-petrosyan-")


@pytest.mark.django_db
def test_a_new_image_gets_a_new_name_so_its_address_can_be_cached_for_ever():
    article = make_article(slug="harbour-works")
    article.image.save("a.jpg", ContentFile(image_bytes(size=(600, 400))))
    first = article.image.name

    article.image.save("a.jpg", ContentFile(image_bytes(size=(600, 401))))

    assert article.image.name != first


# Tall and odd images through every image field, as an editor uploads them


def encoded(image, fmt, **save_args):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def palette_png_with_transparency():
    image = Image.new("P", (300, 200))
    image.putpalette([0, 0, 0, 200, 30, 30] * 128)
    return encoded(image, "PNG", transparency=0)


def animated_gif():
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("red", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])


def truncated_jpeg():
    data = encoded(Image.effect_noise((400, 300), 60).convert("RGB"), "JPEG")
    return data[: len(data) // 2]


def plain(mode, size, fmt, colour="teal"):
    return encoded(Image.new(mode, size, colour), fmt)


def rotated_phone_photo():
    return image_bytes(size=(300, 200), exif=exif_with_gps(orientation=6))


# name: (file name, content, the stored (width, height), or None when refused)
ODD_IMAGES = {
    "tall-chart": ("chart.png", plain("RGB", (1200, 20000), "PNG"), (1200, 20000)),
    "wide-panorama": ("pano.jpg", plain("RGB", (20000, 300), "JPEG"), (20000, 300)),
    "one-pixel": ("dot.png", plain("RGB", (1, 1), "PNG"), (1, 1)),
    "cmyk-jpeg": ("cmyk.jpg", plain("CMYK", (300, 200), "JPEG", "red"), (300, 200)),
    "palette-transparent": ("logo.png", palette_png_with_transparency(), (300, 200)),
    "animated-gif": ("clip.gif", animated_gif(), (300, 200)),
    "16-bit-png": ("scan.png", plain("I;16", (300, 200), "PNG", 30000), (300, 200)),
    "exif-rotated": ("phone.jpg", rotated_phone_photo(), (200, 300)),
    "truncated": ("cut.jpg", truncated_jpeg(), None),
    "not-an-image-named-jpg": ("photo.jpg", b"%PDF-1.7\n%%EOF", None),
    "decompression-bomb": ("bomb.png", png_header_only(50_000, 50_000), None),
}  # fmt: skip

IMAGE_FIELDS = {
    # field: (admin add URL, form data without the image, the image field's name)
    "article": (
        "admin:articles_article_add",
        lambda category: {
            "title": "Bread prices",
            "slug": "bread-prices",
            "body": "<p>Flour costs doubled.</p>",
            "category": category.pk,
            "status": "draft",
            "image_alt": "A chart",
            "comments_enabled": "on",
            **no_inline_forms(),
        },
        "image",
    ),
    "author-photo": (
        "admin:articles_author_add",
        lambda category: {"name": "Ani Petrosyan", "slug": "ani-petrosyan"},
        "photo",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.slow) if case == "tall-chart" else case
        for case in ODD_IMAGES
    ],
)
def test_an_odd_image_is_stored_or_refused_with_a_message_never_a_500(
    client, settings, tmp_path, field, case
):
    from django.urls import reverse

    from articles.models import Article, Author
    from tests.factories import make_category, make_staff

    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(make_staff("editor", "Editors"))
    url, data, name = IMAGE_FIELDS[field]
    filename, content, expected = ODD_IMAGES[case]
    data = data(make_category())
    data[name] = SimpleUploadedFile(filename, content, "image/jpeg")

    response = client.post(reverse(url), data)

    if expected is None:
        assert response.status_code == 200
        form = response.context["adminform"].form
        assert form.errors[name], form.errors
        assert stored_files(tmp_path) == []
        return
    assert response.status_code == 302, response.context["adminform"].form.errors
    obj = Article.objects.get() if field == "article" else Author.objects.get()
    file = getattr(obj, name)
    names = [file.name, *getattr(obj, "image_renditions", {}).values()]
    assert sorted(names) == stored_files(tmp_path)
    for stored_name in names:
        with default_storage.open(stored_name) as stored:
            image = Image.open(stored)
            image.load()
            assert max(image.size) <= 20000
            if stored_name.endswith(".webp"):
                assert max(image.size) <= 16383
    with default_storage.open(file.name) as stored:
        assert Image.open(stored).size == expected
    if field == "article":
        assert (obj.image_width, obj.image_height) == expected


@pytest.mark.django_db
def test_a_16_bit_grey_image_keeps_its_tones():
    data = plain("I;16", (30, 20), "PNG", 30000)

    prepared = prepare_upload(upload(data, "scan.png"))

    assert prepared.image.getpixel((0, 0)) == (117, 117, 117)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_tall_image_gets_renditions_that_webp_can_hold():
    article = make_article()

    _, content, _ = ODD_IMAGES["tall-chart"]

    article.image.save("chart.png", ContentFile(content))

    # 1200 wide would be 20,000 high: that rendition is made narrower to fit.
    assert set(article.image_renditions) == {"480", "800", "983"}
    with default_storage.open(article.image_renditions["983"]) as stored:
        assert Image.open(stored).size == (983, 16383)


@pytest.mark.django_db
def test_an_image_whose_renditions_cannot_be_stored_leaves_no_files(
    settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = str(tmp_path)
    article = make_article()
    stores = []

    def fail_on_the_second(name, content, **kwargs):
        if len(stores) == 2:
            raise OSError("disk full")
        stores.append(name)
        return original_save(name, content, **kwargs)

    original_save = default_storage.save
    monkeypatch.setattr(default_storage, "save", fail_on_the_second)

    with pytest.raises(OSError):
        article.image.save("a.jpg", ContentFile(image_bytes(size=(1300, 700))))

    assert stored_files(tmp_path) == []


# Oversized uploads are refused while they arrive


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_with_a_message_before_it_is_stored(
    client, settings, monkeypatch
):
    from django.core.files.uploadhandler import MemoryFileUploadHandler
    from django.urls import reverse

    from tests.factories import make_staff

    settings.MAX_UPLOAD_SIZE = 100 * 1024
    stored = []
    store_chunk = MemoryFileUploadHandler.receive_data_chunk

    def counting(handler, raw_data, start):
        stored.append(len(raw_data))
        return store_chunk(handler, raw_data, start)

    def pillow_must_not_open(*args, **kwargs):
        raise AssertionError("Pillow opened an oversized upload")

    monkeypatch.setattr(MemoryFileUploadHandler, "receive_data_chunk", counting)
    monkeypatch.setattr(Image, "open", pillow_must_not_open)
    client.force_login(make_staff("editor", "Editors"))
    huge = b"\xff\xd8\xff\xe0" + bytes(2 * 1024 * 1024)

    response = client.post(
        reverse("admin:articles_author_add"),
        {
            "name": "Ani Petrosyan",
            "slug": "ani-petrosyan",
            "photo": SimpleUploadedFile("me.jpg", huge, "image/jpeg"),
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["photo"]
    assert errors == ["The file is 2.0\xa0MB; images may be at most 100.0\xa0KB."]
    assert sum(stored) <= settings.MAX_UPLOAD_SIZE
    assert response.context["adminform"].form["name"].value() == "Ani Petrosyan"


def test_a_plain_image_field_is_a_system_check_error():
    from articles.checks import check_image_fields

    with isolate_apps("articles") as isolated:

        class Gallery(models.Model):
            picture = models.ImageField(upload_to="gallery/")
            cover = CleanImageField(upload_to="gallery/")

            class Meta:
                app_label = "articles"

            def __str__(self):
                return "Gallery"

        errors = check_image_fields([isolated.get_app_config("articles")])

    assert [(error.id, error.obj.name) for error in errors] == [
        ("articles.E001", "picture")
    ]


def test_every_image_field_of_the_project_strips_uploads():
    from articles.checks import check_image_fields

    assert check_image_fields() == []


@pytest.mark.django_db
def test_a_removed_or_replaced_author_photo_is_no_longer_published(
    django_capture_on_commit_callbacks,
):
    author = make_author(photo=ContentFile(image_bytes(), name="first.jpg"))
    first = author.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        author.photo.save("second.jpg", ContentFile(image_bytes(size=(640, 361))))
    second = author.photo.name
    with django_capture_on_commit_callbacks(execute=True):
        author.photo = None
        author.save()

    assert not default_storage.exists(first)
    assert not default_storage.exists(second)


@pytest.mark.django_db
def test_deleting_an_author_removes_their_photo(django_capture_on_commit_callbacks):
    author = make_author(photo=ContentFile(image_bytes(), name="me.jpg"))
    name = author.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        author.delete()

    assert not default_storage.exists(name)


@pytest.mark.django_db
def test_a_rolled_back_replacement_keeps_the_files_the_row_points_to(
    django_capture_on_commit_callbacks,
):
    from django.db import transaction

    author = make_author(photo=ContentFile(image_bytes(), name="kept.jpg"))
    kept = author.photo.name

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        author.photo = None
        author.save()
        transaction.set_rollback(True)

    assert callbacks == []
    assert default_storage.exists(kept)


@pytest.mark.django_db
def test_rows_deleted_in_bulk_take_their_files_with_them(
    django_capture_on_commit_callbacks,
):
    from articles.models import Photo
    from tests.factories import make_photo

    photos = [make_photo(alt=f"Photo {n}") for n in range(2)]
    files = [name for p in photos for name in [p.image.name, *p.renditions.values()]]

    with django_capture_on_commit_callbacks(execute=True):
        Photo.objects.all().delete()

    assert not any(default_storage.exists(name) for name in files)
