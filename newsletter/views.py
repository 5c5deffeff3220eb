"""Public pages: sign-up, confirmation, preferences and unsubscribe. Subscribers
have no account; the signed token in each link is their key."""

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from articles.models import authors_in_byline_order
from publicpages.addresses import absolute_url
from publicpages.crossorigin import public_form
from ratelimit.limits import client_ip, is_rate_limited
from safetext.validators import normalise_line

from . import services, webhooks
from .forms import PreferencesForm, SignupForm
from .models import Issue, Newsletter, Subscriber
from .sending import issue_articles
from .tasks import process_sign_up
from .tokens import (
    ExpiredToken,
    InvalidToken,
    make_manage_token,
    read_confirm_token,
    read_manage_token,
)


@require_safe
def index(request):
    return render(
        request,
        "newsletter/index.html",
        {"form": None, "newsletters": Newsletter.objects.listed()},
    )


ISSUES_PER_PAGE = 50


@require_safe
def archive(request, slug):
    """The issues of one newsletter that went out, newest first."""
    newsletter = get_object_or_404(Newsletter, slug=slug)
    issues = Issue.objects.archived().filter(newsletter=newsletter)
    paginator = Paginator(issues.order_by("-started_at", "-pk"), ISSUES_PER_PAGE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except InvalidPage:
        raise Http404("No such page.") from None
    return render(
        request,
        "newsletter/archive.html",
        {"newsletter": newsletter, "page": page},
    )


@require_safe
def issue(request, slug, issue_id):
    """An issue's web version, the same for every reader: its articles as the
    site shows them, with none of a recipient's personal links."""
    issue = get_object_or_404(
        Issue.objects.on_the_web().select_related("newsletter"),
        pk=issue_id,
        newsletter__slug=slug,
    )
    articles = issue_articles(issue)
    # The bylines of every card in one query.
    prefetch_related_objects(articles, authors_in_byline_order())
    return render(
        request,
        "newsletter/issue.html",
        {"issue": issue, "newsletter": issue.newsletter, "articles": articles},
    )


def _signup_source(request, form_source: str) -> str:
    """The page of the site the sign-up came from (for the consent record)."""
    if form_source.startswith("/") and not form_source.startswith("//"):
        return absolute_url(form_source)
    # A header may hold tabs and other control characters the model refuses.
    referer = normalise_line(request.headers.get("Referer", ""))[:300]
    return referer or request.build_absolute_uri()


@public_form
@require_POST
def subscribe(request):
    ip = client_ip(request)
    if is_rate_limited(
        f"newsletter-signup:{ip}",
        limit=settings.NEWSLETTER_SIGNUP_RATE,
        period=settings.NEWSLETTER_SIGNUP_PERIOD,
    ):
        return render(request, "newsletter/rate_limited.html", status=429)
    form = SignupForm(request.POST)
    if form.is_spam():
        # Same answer as a real sign-up, so a bot learns nothing.
        return redirect("newsletter:check_inbox")
    if not form.is_valid():
        return render(
            request,
            "newsletter/index.html",
            {"form": form, "newsletters": Newsletter.objects.listed()},
            status=400,
        )
    # The worker decides what the sign-up means for this address. Here every
    # address costs the same queries, so the answer's timing tells nobody who
    # subscribes.
    process_sign_up.enqueue(
        email=form.cleaned_data["email"],
        newsletter_ids=[
            newsletter.pk for newsletter in form.cleaned_data["newsletters"]
        ],
        ip=ip or None,
        source=_signup_source(request, form.cleaned_data["source"]),
    )
    return redirect("newsletter:check_inbox")


@require_safe
def check_inbox(request):
    """The one answer to every sign-up: nobody learns whether an address was
    already known."""
    return render(request, "newsletter/check_inbox.html")


def _invalid_link(request, *, expired: bool):
    return render(
        request, "newsletter/invalid_link.html", {"expired": expired}, status=400
    )


@never_cache
@public_form
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET shows a button (mail scanners follow links); POST confirms."""
    try:
        subscriber_id = read_confirm_token(token)
    except ExpiredToken:
        return _invalid_link(request, expired=True)
    except InvalidToken:
        return _invalid_link(request, expired=False)
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status not in {
        Subscriber.Status.PENDING,
        Subscriber.Status.CONFIRMED,
    }:
        return _invalid_link(request, expired=False)
    if request.method == "POST":
        services.confirm(subscriber=subscriber)
        url = reverse("newsletter:preferences", args=[make_manage_token(subscriber.pk)])
        return redirect(f"{url}?confirmed=1")
    return render(
        request,
        "newsletter/confirm.html",
        {"already": subscriber.status == Subscriber.Status.CONFIRMED},
    )


def _get_subscriber_for_token(token) -> Subscriber | None:
    try:
        subscriber_id = read_manage_token(token)
    except InvalidToken:
        return None
    return Subscriber.objects.filter(pk=subscriber_id).first()


@never_cache
@public_form
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    subscriber = _get_subscriber_for_token(token)
    if subscriber is None:
        return _invalid_link(request, expired=False)
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if "unsubscribe" in request.POST:
            services.unsubscribe(subscriber=subscriber)
            return redirect("newsletter:unsubscribed")
        if form.is_valid():
            services.update_preferences(
                subscriber=subscriber, newsletters=form.cleaned_data["newsletters"]
            )
            subscriber.refresh_from_db()
            saved = True
    else:
        form = PreferencesForm(
            initial={"newsletters": list(subscriber.newsletters.all())}
        )
    return render(
        request,
        "newsletter/preferences.html",
        {
            "form": form,
            "subscriber": subscriber,
            "saved": saved,
            "just_confirmed": request.GET.get("confirmed") == "1"
            and subscriber.status == Subscriber.Status.CONFIRMED,
            "subscribed": subscriber.status == Subscriber.Status.CONFIRMED,
            "unsubscribe_url": reverse("newsletter:unsubscribe", args=[token]),
        },
    )


@never_cache
@public_form  # RFC 8058: mail providers POST here without a CSRF token.
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """One-click unsubscribe. GET asks (link scanners must unsubscribe nobody);
    POST, from our button or a mail provider, unsubscribes at once. The signed
    token is the authentication; unsubscribing is harmless to repeat."""
    subscriber = _get_subscriber_for_token(token)
    if subscriber is None:
        return _invalid_link(request, expired=False)
    if request.method == "POST":
        services.unsubscribe(subscriber=subscriber)
        return redirect("newsletter:unsubscribed")
    return render(request, "newsletter/unsubscribe.html")


@require_safe
def unsubscribed(request):
    return render(request, "newsletter/unsubscribed.html")


@csrf_exempt  # The email service posts here; anymail's view checks its signature.
def provider_webhook(request, provider):
    """Bounces and complaints from the email service in use (webhooks.py). Only
    the configured service's address answers: another one could not be checked
    against a secret of its own."""
    if provider != settings.EMAIL_PROVIDER or provider not in webhooks.TRACKING_VIEWS:
        raise Http404
    return webhooks.TRACKING_VIEWS[provider](request)
