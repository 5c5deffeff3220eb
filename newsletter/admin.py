"""
Composing and sending in the admin.

Editors hold the newsletter permissions (data migration 0002). Sending and
scheduling need `newsletter.send_issue`, checked here and again in services.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from safetext.validators import validate_single_line

from . import services
from .models import (
    Delivery,
    Issue,
    IssueArticle,
    Newsletter,
    Subscriber,
    SubscriberImport,
)
from .sending import personalise, render_issue, send_test
from .subscriber_csv import export_rows
from .tasks import import_subscribers


def articles_added(count: int) -> str:
    return ngettext("%(count)d article added.", "%(count)d articles added.", count) % {
        "count": count
    }


# Failed addresses listed on the progress page; the rest are one link away.
FAILURES_SHOWN = 50


@admin.register(Newsletter)
class NewsletterAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active", "is_default", "position"]
    list_editable = ["is_active", "is_default", "position"]
    prepopulated_fields = {"slug": ["name"]}


class CSVFileField(forms.FileField):
    """An uploaded UTF-8 text file; `.text` holds its content."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload and upload.size > settings.MAX_UPLOAD_SIZE:
            raise ValidationError(
                f"The file is larger than {filesizeformat(settings.MAX_UPLOAD_SIZE)}."
            )
        if upload:
            try:
                upload.text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text.") from None
        return upload


class ImportForm(forms.Form):
    file = CSVFileField(
        label="CSV file",
        help_text='UTF-8, with an "email" column; optional "newsletters" (slugs '
        'separated by ";") and "consent_at" columns.',
    )
    newsletters = forms.ModelMultipleChoiceField(
        queryset=Newsletter.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Subscribe every row to these, besides the row's own.",
    )
    consent_note = forms.CharField(
        max_length=200,
        validators=[validate_single_line],
        help_text="Where and when these people agreed to receive the newsletter. "
        "Kept with each of them.",
    )


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "created_at", "confirmed_at"]
    list_filter = ["status", "newsletters"]
    search_fields = ["email"]
    date_hierarchy = "created_at"
    fields = [
        "email",
        "status",
        "newsletters",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "consent_at",
        "consent_ip",
        "consent_source",
    ]
    readonly_fields = [
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "consent_at",
        "consent_ip",
        "consent_source",
    ]
    filter_horizontal = ["newsletters"]
    actions = ["export_csv", "mark_bounced"]
    change_list_template = "admin/newsletter/subscriber/change_list.html"

    def has_add_permission(self, request):
        # Subscribers come from the sign-up form (double opt-in) or an import.
        return False

    @admin.action(
        description="Export selected subscribers to CSV", permissions=["view"]
    )
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(
            export_rows(queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = (
            f'attachment; filename="subscribers-{stamp}.csv"'
        )
        return response

    @admin.action(
        description="Mark as bounced (never mail again)", permissions=["change"]
    )
    def mark_bounced(self, request, queryset):
        count = services.mark_bounced(
            emails=list(queryset.values_list("email", flat=True))
        )
        self.message_user(request, f"{count} marked as bounced.", messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="newsletter_subscriber_import",
            ),
            path(
                "import/<int:import_id>/",
                self.admin_site.admin_view(self.import_status_view),
                name="newsletter_subscriber_import_status",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Upload a list: stored, then imported by a task, so the request
        returns at once; the import's own page shows how far it got."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            upload_record = SubscriberImport.objects.create(
                created_by=request.user,
                file_name=upload.name[:200],
                csv_text=upload.text,
                consent_note=form.cleaned_data["consent_note"],
            )
            upload_record.newsletters.set(form.cleaned_data["newsletters"])
            import_subscribers.enqueue(upload_record.pk)
            return redirect(upload_record)
        return TemplateResponse(
            request,
            "admin/newsletter/subscriber/import.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Import subscribers",
                "form": form,
                "imports": SubscriberImport.objects.all()[:10],
            },
        )

    def import_status_view(self, request, import_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        upload = get_object_or_404(SubscriberImport, pk=import_id)
        return TemplateResponse(
            request,
            "admin/newsletter/subscriber/import_status.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Import of {upload.file_name}",
                "upload": upload,
                "refresh": not upload.is_finished,
            },
        )


class IssueArticleInline(admin.TabularInline):
    model = IssueArticle
    fields = ["position", "article"]
    raw_id_fields = ["article"]
    extra = 1


class IssueForm(forms.ModelForm):
    class Meta:
        model = Issue
        fields = ["newsletter", "subject", "preheader", "intro", "send_at"]
        widgets = {"intro": forms.Textarea(attrs={"rows": 6})}


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    form = IssueForm
    list_display = ["subject", "newsletter", "status", "send_at", "progress_column"]
    list_filter = ["status", "newsletter"]
    search_fields = ["subject"]
    list_select_related = ["newsletter"]
    inlines = [IssueArticleInline]
    readonly_fields = ["status", "progress", "started_at", "finished_at", "sent_by"]
    actions = ["fill_with_new_articles"]
    change_form_template = "admin/newsletter/issue/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).with_progress()

    def get_fields(self, request, obj=None):
        fields = ["newsletter", "subject", "preheader", "intro", "send_at"]
        if obj is not None:
            fields += ["status", "progress", "started_at", "finished_at", "sent_by"]
        return fields

    def has_change_permission(self, request, obj=None):
        # A sent issue is a record: view only.
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="sent / failed / total")
    def progress_column(self, issue):
        if issue.status in {Issue.Status.DRAFT, Issue.Status.SCHEDULED}:
            return "–"
        return (
            f"{issue.deliveries_sent} / {issue.deliveries_failed}"
            f" / {issue.deliveries_total}"
        )

    @admin.display(description="progress")
    def progress(self, issue):
        counts = issue.progress()
        if not counts["total"]:
            return "Not sent yet."
        return format_html(
            "{} sent, {} failed, {} in doubt, {} skipped, {} cancelled, of {} "
            '(<a href="{}">live progress</a>)',
            counts[Delivery.Status.SENT],
            counts[Delivery.Status.FAILED],
            counts[Delivery.Status.IN_DOUBT],
            counts[Delivery.Status.SKIPPED],
            counts[Delivery.Status.CANCELLED],
            counts["total"],
            reverse("admin:newsletter_issue_progress", args=[issue.pk]),
        )

    @admin.action(
        description="Fill with articles published since the last issue",
        permissions=["change"],
    )
    def fill_with_new_articles(self, request, queryset):
        for issue in queryset:
            try:
                added = services.fill_with_new_articles(issue=issue)
            except ValidationError as error:
                self.message_user(request, f"{issue}: {error.message}", messages.ERROR)
                continue
            self.message_user(request, f"{issue}: {articles_added(added)}")

    # Extra pages: preview, test, fill, send, schedule, progress ---------------------

    def get_urls(self):
        def view(func, name):
            return path(
                f"<int:issue_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"newsletter_issue_{name}",
            )

        return [
            view(self.preview_view, "preview"),
            view(self.test_view, "test"),
            view(self.fill_view, "fill"),
            view(self.send_view, "send"),
            view(self.schedule_view, "schedule"),
            view(self.unschedule_view, "unschedule"),
            view(self.progress_view, "progress"),
            view(self.pause_view, "pause"),
            view(self.resume_view, "resume"),
            view(self.cancel_view, "cancel"),
            *super().get_urls(),
        ]

    def _get_issue_for_user(self, request, issue_id, *, perm: str) -> Issue:
        issue = get_object_or_404(
            Issue.objects.select_related("newsletter"), pk=issue_id
        )
        allowed = {
            "view": self.has_view_permission(request, issue),
            "change": super().has_change_permission(request, issue),
            "send": request.user.has_perm(services.SEND_PERMISSION),
        }[perm]
        if not allowed:
            raise PermissionDenied
        return issue

    def _change_url(self, issue):
        return reverse("admin:newsletter_issue_change", args=[issue.pk])

    def preview_view(self, request, issue_id):
        """The HTML exactly as mailed, with example personal links."""
        issue = self._get_issue_for_user(request, issue_id, perm="view")
        html = issue.rendered_html or render_issue(issue)[0]
        if request.GET.get("format") == "text":
            text = issue.rendered_text or render_issue(issue)[1]
            return HttpResponse(
                personalise(text, preferences_url="#", unsubscribe_url="#"),
                content_type="text/plain; charset=utf-8",
            )
        return HttpResponse(personalise(html, preferences_url="#", unsubscribe_url="#"))

    def test_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="change")
        if request.method != "POST":
            return redirect(self._change_url(issue))
        if not request.user.email:
            self.message_user(
                request,
                "Your account has no email address to send the test to.",
                messages.ERROR,
            )
            return redirect(self._change_url(issue))
        # The personal links of a test lead to the list of newsletters: the
        # editor is no subscriber.
        newsletters_url = request.build_absolute_uri(reverse("newsletter:index"))
        send_test(issue, to=request.user.email, links_to=newsletters_url)
        self.message_user(request, f"Test sent to {request.user.email}.")
        return redirect(self._change_url(issue))

    def fill_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="change")
        if request.method == "POST":
            try:
                added = services.fill_with_new_articles(issue=issue)
                self.message_user(request, articles_added(added))
            except ValidationError as error:
                self.message_user(request, error.message, messages.ERROR)
        return redirect(self._change_url(issue))

    def send_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if not issue.is_editable:
            # Sent or sending already: there is nothing left to confirm.
            self.message_user(request, "This issue is already being sent or was sent.")
            return redirect("admin:newsletter_issue_progress", issue.pk)
        recipients = Subscriber.objects.filter(
            status=Subscriber.Status.CONFIRMED, newsletters=issue.newsletter
        ).count()
        if request.method == "POST":
            try:
                services.request_sending(issue=issue, user=request.user)
            except ValidationError as error:
                self.message_user(request, error.message, messages.ERROR)
                return redirect(self._change_url(issue))
            self.message_user(
                request,
                ngettext(
                    "Sending to %(total)d subscriber.",
                    "Sending to %(total)d subscribers.",
                    recipients,
                )
                % {"total": recipients},
            )
            return redirect("admin:newsletter_issue_progress", issue.pk)
        return TemplateResponse(
            request,
            "admin/newsletter/issue/send_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Send this issue?",
                "issue": issue,
                "recipients": recipients,
            },
        )

    def schedule_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if request.method == "POST":
            if issue.send_at is None or issue.send_at <= timezone.now():
                self.message_user(
                    request,
                    "Set a future “send at” time and save the issue first.",
                    messages.ERROR,
                )
            else:
                try:
                    services.schedule(
                        issue=issue, send_at=issue.send_at, user=request.user
                    )
                    self.message_user(
                        request,
                        "Scheduled for "
                        f"{timezone.localtime(issue.send_at):%d %b %Y %H:%M}.",
                    )
                except ValidationError as error:
                    self.message_user(request, error.message, messages.ERROR)
        return redirect(self._change_url(issue))

    def unschedule_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if request.method == "POST":
            services.unschedule(issue=issue, user=request.user)
            self.message_user(request, "Back to draft.")
        return redirect(self._change_url(issue))

    def progress_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="view")
        progress = services.send_progress(issue, failures=FAILURES_SHOWN)
        finish_at = None
        if progress.eta_seconds is not None:
            finish_at = timezone.now() + timedelta(seconds=progress.eta_seconds)
        running = {Issue.Status.SENDING, Issue.Status.PAUSED}
        expected = None
        if progress.status == Issue.Status.PREPARING:
            expected = Subscriber.objects.filter(
                status=Subscriber.Status.CONFIRMED, newsletters=issue.newsletter_id
            ).count()
        can_send = request.user.has_perm(services.SEND_PERMISSION)
        return TemplateResponse(
            request,
            "admin/newsletter/issue/progress.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Sending “{issue.subject}”",
                "issue": issue,
                "progress": progress,
                "counts": progress.counts,
                "finish_at": finish_at,
                "refresh": progress.status
                in {Issue.Status.PREPARING, Issue.Status.SENDING},
                "expected": expected,
                "can_pause": can_send and progress.status == Issue.Status.SENDING,
                "can_resume": can_send
                and (
                    progress.status == Issue.Status.PAUSED
                    or (
                        progress.status == Issue.Status.SENDING
                        and (progress.stalled or progress.waiting_until is not None)
                    )
                ),
                "can_cancel": can_send and progress.status in running,
                "failures_url": failed_deliveries_url(issue),
            },
        )

    def pause_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if request.method == "POST":
            if services.pause_send(issue, user=request.user):
                self.message_user(
                    request,
                    "Paused. Messages already being handed over finish; "
                    "nobody else gets it until you resume.",
                )
            else:
                self.message_user(
                    request, "This send is not running.", messages.WARNING
                )
        return redirect("admin:newsletter_issue_progress", issue.pk)

    def resume_view(self, request, issue_id):
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if request.method == "POST":
            try:
                waiting = services.resume_send(issue, user=request.user)
            except ValidationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Resumed: %(count)d recipient to go.",
                        "Resumed: %(count)d recipients to go.",
                        waiting,
                    )
                    % {"count": waiting},
                )
        return redirect("admin:newsletter_issue_progress", issue.pk)

    def cancel_view(self, request, issue_id):
        """Asks first: a cancelled send cannot be taken up again."""
        issue = self._get_issue_for_user(request, issue_id, perm="send")
        if request.method == "POST":
            try:
                cancelled = services.cancel_send(issue, user=request.user)
            except ValidationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Cancelled: %(count)d recipient will not get this issue.",
                        "Cancelled: %(count)d recipients will not get this issue.",
                        cancelled,
                    )
                    % {"count": cancelled},
                )
            return redirect("admin:newsletter_issue_progress", issue.pk)
        counts = issue.progress()
        return TemplateResponse(
            request,
            "admin/newsletter/issue/cancel_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Cancel this send?",
                "issue": issue,
                "waiting": counts[Delivery.Status.PENDING]
                + counts[Delivery.Status.CLAIMED],
            },
        )


def failed_deliveries_url(issue: Issue) -> str:
    return (
        reverse("admin:newsletter_delivery_changelist")
        + f"?issue__id__exact={issue.pk}&status__exact={Delivery.Status.FAILED}"
    )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The record of every message: who failed and why. Read only: the sending
    engine alone writes it."""

    list_display = ["email", "issue", "status", "attempts", "error", "sent_at"]
    list_filter = ["status", "issue__newsletter"]
    search_fields = ["subscriber__email"]
    list_select_related = ["subscriber", "issue"]
    show_full_result_count = False

    @admin.display(description="email", ordering="subscriber__email")
    def email(self, delivery):
        return delivery.subscriber.email

    def lookup_allowed(self, lookup, value, request):
        # The progress page links to one issue's failed deliveries.
        return lookup == "issue__id__exact" or super().lookup_allowed(
            lookup, value, request
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
