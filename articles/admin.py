"""
The newsroom: where writers draft and editors publish.

Two roles, both enforced here on the server rather than hidden in the page:
- Writers (no `publish_article` permission) see and edit only their own drafts:
  articles they created or that carry their byline. Status, publication time and
  the lead-story flag are read-only to them, and a published article is read-only.
- Editors (with `publish_article`) edit everything and publish or unpublish.

The review workflow (articles.workflow): a writer's "Save and submit for review"
makes their draft read-only to them; an editor publishes it or sends it back to
them as a draft, with a note the writer sees on the article and in their list.
"""

from contextlib import nullcontext

import reversion
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminFileWidget, AutocompleteMixin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from reversion.admin import VersionAdmin
from reversion.models import Version
from reversion.utils import mute_signals

from articles import revisions, workflow
from articles.forms import ArticleAdminForm, CompareRevisionsForm, SendBackForm
from articles.models import (
    Article,
    Author,
    Byline,
    Category,
    Correction,
    Figure,
    Photo,
    SlugRedirect,
    User,
    authors_in_byline_order,
)

PUBLISH_PERMISSION = "articles.publish_article"


def can_publish(user) -> bool:
    return user.has_perm(PUBLISH_PERMISSION)


def is_own_article(user, article: Article) -> bool:
    return article.is_owned_by(user)


def owned_by(user) -> Q:
    """The articles a writer created or that carry their byline: all they may
    open in the admin (see Article.is_owned_by)."""
    own = Article.objects.filter(Q(created_by=user) | Q(authors__user=user))
    return Q(pk__in=own.values("pk"))


def pickable_by(user) -> Q:
    """The articles a writer may pin as related: their own, and anything readers
    can already see. Never another writer's unpublished article."""
    return owned_by(user) | Q(pk__in=Article.objects.published().values("pk"))


def related_articles_shown_to(user):
    """The read-only "related articles" of an article, as `user` may see them."""

    @admin.display(description="related articles")
    def related_articles(article):
        pinned = article.related_articles.filter(pickable_by(user))
        return ", ".join(str(other) for other in pinned) or "—"

    return related_articles


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("draft", "Draft"),
            ("review", "Ready for review"),
            ("scheduled", "Scheduled"),
            ("published", "Published"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "draft":
                return queryset.drafts()
            case "review":
                return queryset.in_review()
            case "scheduled":
                return queryset.scheduled()
            case "published":
                return queryset.published()
        return queryset


class AccessibleWidgetsMixin:
    """Django's autocomplete and file widgets, set up so that every control has
    an accessible name and sits inside the page's landmarks. (The article form
    also loads admin-labels.js, for the names only the browser can attach.)"""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        # Inside the wrapper that adds the "+" and "change" links.
        widget = getattr(widget, "widget", widget)
        if isinstance(widget, AutocompleteMixin):
            # select2 opens its list at the end of <body>, outside every landmark,
            # unless its documented dropdownParent option says where.
            widget.attrs["data-dropdown-parent"] = "#content"
        if isinstance(widget, AdminFileWidget):
            # Django draws a file field as a fieldset with the label as its
            # legend, which names the group but not the file input in it.
            widget.attrs.setdefault("aria-label", formfield.label)
        return formfield


def left_out_messages(left_out: revisions.LeftOut, article: Article) -> list[str]:
    """What a restore of `article` could not bring back (a revisions.LeftOut),
    in the editor's words; `article` is as it was before the restore."""
    said = []
    if left_out.category is not None:
        gone = "The category of that revision"
        if left_out.category:
            gone = f"The category “{left_out.category}”"
        said.append(
            f"{gone} no longer exists: the article stays in “{article.category}”."
        )
    for name in left_out.accounts:
        said.append(
            f"“{capfirst(name)}” is left empty: the account of that revision no "
            "longer exists."
        )
    if left_out.byline_kept:
        said.append(
            ngettext(
                "The author of that revision is no longer in the newsroom: the "
                "current byline was kept.",
                "The %(count)d authors of that revision are no longer in the "
                "newsroom: the current byline was kept.",
                left_out.authors,
            )
            % {"count": left_out.authors}
        )
    elif left_out.authors:
        said.append(
            ngettext(
                "%d author was not restored: no longer in the newsroom.",
                "%d authors were not restored: no longer in the newsroom.",
                left_out.authors,
            )
            % left_out.authors
        )
    if left_out.image:
        kept = (
            "the current image was kept"
            if article.image
            else "the article stays without an image"
        )
        said.append(f"The image of that revision is no longer stored: {kept}.")
    if left_out.figures:
        said.append(
            ngettext(
                "%d figure was not restored: its photo is no longer in the library.",
                "%d figures were not restored: their photos are no longer in the "
                "library.",
                left_out.figures,
            )
            % left_out.figures
        )
    return said


class _RolledBack(Exception):
    """Carries a rendered page out of a transaction it rolls back."""

    def __init__(self, response):
        super().__init__()
        self.response = response


@admin.register(User)
class NewsroomUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "user"]
    list_select_related = ["user"]
    search_fields = ["name", "slug", "user__username"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["user"]


def thumbnail(image, renditions, *, alt="", width=240):
    """A small rendition of a stored image, or a dash."""
    name = (renditions or {}).get("480") or (image.name if image else "")
    if not name:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" width="{}">', image.storage.url(name), alt, width
    )


@admin.register(Photo)
class PhotoAdmin(AccessibleWidgetsMixin, admin.ModelAdmin):
    """The photo library. Writers add photos and place any of them in their
    stories (the figure's search box); editors also correct and delete them. A
    photo placed in a story cannot be deleted until no story shows it."""

    list_display = ["list_thumbnail", "alt", "credit", "uploaded_by", "uploaded_at"]
    list_display_links = ["list_thumbnail", "alt"]
    list_select_related = ["uploaded_by"]
    search_fields = ["alt", "caption", "credit"]
    fields = ["image", "preview", "alt", "caption", "credit", "uploaded_by"]
    readonly_fields = ["preview", "uploaded_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="image")
    def list_thumbnail(self, obj):
        # The alt text is in the next column: the thumbnail is decoration.
        return thumbnail(obj.image, obj.renditions, width=120)

    @admin.display(description="current image")
    def preview(self, obj):
        return thumbnail(obj.image, obj.renditions, alt=obj.alt)


@admin.register(SlugRedirect)
class SlugRedirectAdmin(admin.ModelAdmin):
    list_display = ["old_slug", "article", "created_at"]
    list_select_related = ["article"]
    search_fields = ["old_slug", "article__title", "article__slug"]
    autocomplete_fields = ["article"]
    readonly_fields = ["created_at"]


class ArticlePartInline(AccessibleWidgetsMixin, admin.StackedInline):
    """Rows that are part of an article (its byline, its figures): whoever may
    edit the article may edit them; writers hold no permissions on their models.

    Stacked rather than tabular: Django's tabular inline prints an empty table
    header on a read-only form (a writer's article in review), which axe flags."""

    def has_view_permission(self, request, obj=None):
        return self._article_admin().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def _may_edit(self, request, article):
        article_admin = self._article_admin()
        if article is None:
            return article_admin.has_add_permission(request)
        return article_admin.has_change_permission(request, article)

    def _article_admin(self):
        return self.admin_site.get_model_admin(Article)


class BylineInline(ArticlePartInline):
    """The article's authors, in byline order ("By A and B")."""

    model = Byline
    fields = ["author", "position"]
    autocomplete_fields = ["author"]
    extra = 1
    verbose_name = "author"
    verbose_name_plural = "byline (authors in order: lower position first)"


class FigureInline(ArticlePartInline):
    """Photos from the library inside the body, each placed after a paragraph:
    picked by search, or uploaded to the library with "+"."""

    model = Figure
    fields = ["photo", "preview", "caption", "after_paragraph"]
    readonly_fields = ["preview"]
    autocomplete_fields = ["photo"]
    extra = 0
    verbose_name = "figure in the body"
    verbose_name_plural = "figures in the body"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("photo")

    @admin.display(description="image")
    def preview(self, figure):
        if figure.photo_id is None:
            return "—"
        photo = figure.photo
        return thumbnail(photo.image, photo.renditions, alt=photo.alt)


class CorrectionInline(admin.StackedInline):
    """Correction and update notes on a published story: readers see them on the
    article and on the corrections page. Editors only; a note once published is
    part of the record, so it can be changed but not deleted here."""

    model = Correction
    extra = 0
    fields = ["kind", "note", "created_at", "created_by"]
    readonly_fields = ["created_at", "created_by"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return (
            obj is not None
            and obj.status == Article.Status.PUBLISHED
            and can_publish(request.user)
        )

    def has_change_permission(self, request, obj=None):
        return can_publish(request.user)

    def has_view_permission(self, request, obj=None):
        return can_publish(request.user)


@admin.register(Article)
class ArticleAdmin(AccessibleWidgetsMixin, VersionAdmin):
    form = ArticleAdminForm
    object_history_template = "admin/articles/article/object_history.html"
    list_display = [
        "title",
        "status_label",
        "category",
        "byline",
        "published_at",
        "comment_count",
        "is_featured",
    ]
    list_filter = [StatusFilter, "category", "is_featured", "authors"]
    list_select_related = ["category"]
    search_fields = ["title", "standfirst", "slug", "authors__name"]
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category", "related_articles"]
    inlines = [BylineInline, FigureInline, CorrectionInline]
    readonly_fields = ["image_preview", "comment_count", "created_by", "updated_at"]
    actions = ["publish", "unpublish", "duplicate"]

    class Media:
        # Each after the file of Django's it amends.
        css = {"screen": ["admin/css/autocomplete.css", "articles/admin.css"]}
        js = ["admin/js/autocomplete.js", "articles/admin-labels.js"]

    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "standfirst",
                    "dateline",
                    "body",
                    "minor_edit",
                    "loaded_version",
                ]
            },
        ),
        (
            "Image",
            {
                "fields": [
                    "image",
                    "image_preview",
                    "image_alt",
                    "image_caption",
                    "image_credit",
                ]
            },
        ),
        (
            "Filing",
            {"fields": ["category", "tags", "related_articles", "excerpt"]},
        ),
        (
            "Publishing",
            {
                "fields": [
                    "status",
                    "published_at",
                    "is_featured",
                    "comments_enabled",
                    "comment_count",
                    "created_by",
                    "updated_at",
                ]
            },
        ),
    ]

    # Extra pages: each a POST from a button on the change form

    def get_urls(self):
        return [
            path(
                "<path:object_id>/duplicate/",
                self.admin_site.admin_view(require_POST(self.duplicate_view)),
                name="articles_article_duplicate",
            ),
            path(
                "<path:object_id>/history/compare/",
                self.admin_site.admin_view(self.compare_view),
                name="articles_article_compare",
            ),
            path(
                "<path:object_id>/history/<int:version_id>/restore/",
                self.admin_site.admin_view(require_POST(self.restore_view)),
                name="articles_article_restore",
            ),
            path(
                "<path:object_id>/send-back/",
                self.admin_site.admin_view(self.send_back_view),
                name="articles_article_send_back",
            ),
            *super().get_urls(),
        ]

    def _get_article_for(self, request, object_id, *, may):
        """The article, if `may(request, article)` allows this user; else 404
        (no such article) or 403."""
        article = self.get_object(request, object_id)
        if article is None:
            raise Http404("No such article.")
        if not may(request, article):
            raise PermissionDenied
        return article

    def duplicate_view(self, request, object_id):
        def may_duplicate(request, article):
            return self.has_view_permission(
                request, article
            ) and self.has_add_permission(request)

        article = self._get_article_for(request, object_id, may=may_duplicate)
        copy = workflow.duplicate_as_draft(article, user=request.user)
        self.message_user(
            request,
            format_html("“{}” is a new draft: this is the copy.", copy.title),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:articles_article_change", args=[copy.pk])
        )

    def send_back_view(self, request, object_id):
        def may_send_back(request, article):
            return self.has_change_permission(request, article) and can_publish(
                request.user
            )

        article = self._get_article_for(request, object_id, may=may_send_back)
        change_url = reverse("admin:articles_article_change", args=[article.pk])
        if article.status != Article.Status.REVIEW:
            self.message_user(
                request,
                "Only an article ready for review can be sent back.",
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        form = SendBackForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            workflow.send_back(article, note=form.cleaned_data["note"])
            self.message_user(
                request,
                format_html("“{}” went back to its writer with your note.", article),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:articles_article_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": article,
            "form": form,
            "change_url": change_url,
            "title": f"Send “{article}” back to its writer",
        }
        return TemplateResponse(
            request, "admin/articles/article/send_back.html", context
        )

    def restore_view(self, request, object_id, version_id):
        """One click: the article as it was in an earlier revision. Editors only:
        a revision may hold a status or publication time writers cannot set."""

        def may_restore(request, article):
            return self.has_change_permission(request, article) and can_publish(
                request.user
            )

        article = self._get_article_for(request, object_id, may=may_restore)
        version = Version.objects.get_for_object(article).filter(pk=version_id).first()
        if version is None:
            raise Http404("No such revision of this article.")
        restored = revisions.restore(version, user=request.user)
        self.message_user(
            request,
            "The earlier revision is restored. This is a new revision: History "
            "can undo it the same way.",
            messages.SUCCESS,
        )
        self._warn_of_left_out(request, restored.left_out, article)
        return HttpResponseRedirect(
            reverse("admin:articles_article_change", args=[article.pk])
        )

    def revision_view(self, request, object_id, version_id, extra_context=None):
        """An earlier revision in the change form, to review and edit before
        saving it as a new revision. Reversion's view, with the revert of
        articles.revisions: only this article's rows are written back, and what
        the revision names that has been deleted since is left out, with a
        warning for each."""
        article = self._get_article_for(
            request, unquote(object_id), may=self.has_view_permission
        )
        version = Version.objects.get_for_object(article).filter(pk=version_id).first()
        if version is None:
            raise Http404("No such revision of this article.")
        when = timezone.localtime(version.revision.date_created)
        context = {"title": f"Revert {version.object_repr}", "revert": True}
        # Showing the revision changes nothing: its rows are written only to
        # fill the form, then rolled back, and no signal (cached pages) fires.
        quiet = (
            nullcontext()
            if request.method == "POST"
            else mute_signals(pre_save, post_save, pre_delete, post_delete)
        )
        try:
            with transaction.atomic(), quiet, self.create_revision(request):
                left_out = revisions.revert(version)
                self._warn_of_left_out(request, left_out, article)
                response = self.changeform_view(
                    request,
                    object_id,
                    request.path,
                    {**context, **(extra_context or {})},
                )
                if request.method == "POST" and response.status_code == 302:
                    reversion.set_comment(
                        f"Restored the revision of {when:%d %b %Y, %H:%M:%S}."
                    )
                    return response
                response.template_name = "reversion/revision_form.html"
                response.render()
                raise _RolledBack(response)
        except _RolledBack as rolled_back:
            return rolled_back.response

    def _warn_of_left_out(self, request, left_out, article):
        """A warning for each thing a restore of `article` left out (a
        revisions.LeftOut); `article` is as it was before the restore."""
        for message in left_out_messages(left_out, article):
            self.message_user(request, message, messages.WARNING)

    def compare_view(self, request, object_id):
        """Two revisions of the article side by side: what changed in the
        headline, standfirst, body, image, tags and figures."""
        article = self._get_article_for(
            request, object_id, may=self.has_view_permission
        )
        versions = list(
            Version.objects.get_for_object(article)
            .select_related("revision__user")
            # Only the two compared are read whole.
            .defer("serialized_data")
        )
        data = request.GET or None
        if data is None and len(versions) >= 2:
            # Newest first: by default, the last change.
            data = {"old": versions[1].pk, "new": versions[0].pk}
        form = CompareRevisionsForm(data, versions=versions)
        differences = None
        if form.is_valid():
            differences = revisions.compare_versions(
                form.cleaned_data["old"], form.cleaned_data["new"]
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": article,
            "form": form,
            "differences": differences,
            "can_restore": can_publish(request.user)
            and self.has_change_permission(request, article),
            "title": f"Compare revisions of “{article}”",
        }
        return TemplateResponse(
            request, "admin/articles/article/compare_revisions.html", context
        )

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        is_draft = obj is None or obj.status == Article.Status.DRAFT
        may_save = (
            self.has_change_permission(request, obj)
            if change
            else self.has_add_permission(request)
        )
        context["show_submit_for_review"] = (
            not can_publish(request.user) and is_draft and may_save
        )
        context["can_send_back"] = (
            obj is not None
            and obj.status == Article.Status.REVIEW
            and can_publish(request.user)
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Who sees what

    def get_queryset(self, request):
        queryset = (
            super().get_queryset(request).prefetch_related(authors_in_byline_order())
        )
        if can_publish(request.user):
            return queryset
        match = getattr(request, "resolver_match", None)
        if match and match.url_name == "autocomplete":
            return queryset.filter(pickable_by(request.user))
        return queryset.filter(owned_by(request.user))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "related_articles" and not can_publish(request.user):
            # The autocomplete offers these; the form must accept no others, nor
            # print the titles of others already pinned by an editor.
            kwargs["queryset"] = Article.objects.filter(pickable_by(request.user))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        # Look the article up among all articles, not only the writer's own, so
        # that someone else's article answers 403 (the permission checks below)
        # rather than "does not exist".
        meta = Article._meta
        field = meta.pk if from_field is None else meta.get_field(from_field)
        try:
            object_id = field.to_python(object_id)
            return Article.objects.get(**{field.name: object_id})
        except (Article.DoesNotExist, ValidationError, ValueError):
            return None

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        if not allowed or obj is None or can_publish(request.user):
            return allowed
        return is_own_article(request.user, obj)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if not allowed or obj is None or can_publish(request.user):
            return allowed
        # A writer's published (or scheduled) article went through an editor:
        # changes to it go through an editor again.
        return obj.status == Article.Status.DRAFT and is_own_article(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if not allowed or obj is None or can_publish(request.user):
            return allowed
        return obj.status == Article.Status.DRAFT and is_own_article(request.user, obj)

    def has_publish_permission(self, request):
        return can_publish(request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not can_publish(request.user):
            fields += ["status", "published_at", "is_featured"]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.status != Article.Status.PUBLISHED:
            # Before publication no save is an update readers are told of.
            fieldsets = [
                (
                    name,
                    {
                        **options,
                        "fields": [f for f in options["fields"] if f != "minor_edit"],
                    },
                )
                for name, options in fieldsets
            ]
        if (
            obj is None
            or can_publish(request.user)
            or self.has_change_permission(request, obj)
        ):
            return fieldsets
        # Shown read-only, the field would list every pinned title, an editor's
        # pins to other writers' unpublished articles included.
        shown = related_articles_shown_to(request.user)
        return [
            (
                name,
                {
                    **options,
                    "fields": [
                        shown if field == "related_articles" else field
                        for field in options["fields"]
                    ],
                },
            )
            for name, options in fieldsets
        ]

    # Saving

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if not can_publish(request.user):
            # The form has no status field for writers; this makes sure no
            # crafted POST or future form change lets a writer publish.
            stored = Article.objects.filter(pk=obj.pk).first() if change else None
            obj.status = Article.Status.DRAFT
            obj.published_at = stored.published_at if stored else None
            obj.is_featured = stored.is_featured if stored else False
        if (
            change
            and obj.is_published
            and not form.cleaned_data.get("minor_edit")
            and set(form.changed_data) - {"minor_edit", "loaded_version"}
        ):
            obj.modified_at = timezone.now()
        super().save_model(request, obj, form, change)
        if "_submit_for_review" in request.POST:
            workflow.submit_for_review(obj)
            self.message_user(
                request,
                "Submitted for review: the editors have been told. It stays "
                "read-only to you until an editor publishes it or sends it back.",
                messages.SUCCESS,
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is Correction:
            for correction in formset.save(commit=False):
                if correction.pk is None:
                    correction.created_by = request.user
                correction.save()
            return
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        article = form.instance
        # Pins a writer's form does not show (an editor's, to articles not yet
        # published) are kept rather than dropped by the writer's save.
        hidden_pins = []
        if change and not can_publish(request.user):
            hidden_pins = list(
                article.related_articles.exclude(pickable_by(request.user))
            )
        super().save_related(request, form, formsets, change)
        if hidden_pins:
            article.related_articles.add(*hidden_pins)
        # A writer's new article carries their byline unless they chose another.
        author = getattr(request.user, "author", None)
        if not change and author is not None and not article.authors.exists():
            article.set_authors([author])

    # List columns

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        if obj.is_scheduled:
            return format_html(
                "Scheduled <small>({})</small>",
                timezone.localtime(obj.published_at).strftime("%d %b %H:%M"),
            )
        if obj.status == Article.Status.DRAFT and obj.review_note:
            return format_html(
                "Sent back <small>(editor's note: {})</small>",
                Truncator(obj.review_note).chars(120),
            )
        return obj.get_status_display()

    @admin.display(description="authors")
    def byline(self, obj):
        return ", ".join(author.name for author in obj.authors.all())

    @admin.display(description="current image")
    def image_preview(self, obj):
        return thumbnail(obj.image, obj.image_renditions, alt=obj.image_alt)

    # Actions: only for those who may publish (Django hides and refuses them
    # for everyone else, see has_publish_permission).

    @admin.action(description="Publish selected articles", permissions=["publish"])
    def publish(self, request, queryset):
        published = scheduled = 0
        for article in queryset.exclude(status=Article.Status.PUBLISHED):
            workflow.publish(article)
            if article.is_scheduled:
                scheduled += 1
            else:
                published += 1
        if published:
            self.message_user(
                request,
                ngettext("%d article published.", "%d articles published.", published)
                % published,
                messages.SUCCESS,
            )
        if scheduled:
            self.message_user(
                request,
                ngettext(
                    "%d article scheduled: it appears at its publication time.",
                    "%d articles scheduled: they appear at their publication times.",
                    scheduled,
                )
                % scheduled,
                messages.SUCCESS,
            )
        if not published and not scheduled:
            self.message_user(
                request, "The selected articles were already published.", messages.INFO
            )

    @admin.action(description="Unpublish selected articles", permissions=["publish"])
    def unpublish(self, request, queryset):
        count = 0
        for article in queryset.filter(status=Article.Status.PUBLISHED):
            article.status = Article.Status.DRAFT
            article.save(update_fields=["status", "updated_at"])
            count += 1
        self.message_user(
            request,
            ngettext(
                "%d article returned to draft.", "%d articles returned to draft.", count
            )
            % count,
            messages.SUCCESS,
        )

    @admin.action(
        description="Duplicate selected articles as new drafts", permissions=["add"]
    )
    def duplicate(self, request, queryset):
        copies = [
            workflow.duplicate_as_draft(article, user=request.user)
            for article in queryset
        ]
        self.message_user(
            request,
            ngettext(
                "%d new draft made from the selected article.",
                "%d new drafts made from the selected articles.",
                len(copies),
            )
            % len(copies),
            messages.SUCCESS,
        )
