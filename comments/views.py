from django.conf import settings
from django.core import signing
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from articles.models import Article
from comments import services
from comments.forms import CommentForm
from comments.models import Comment
from comments.section import (
    AUTHOR_SALT,
    PENDING_MAX_AGE,
    PENDING_SALT,
    author_cookie_value,
    pending_cookie_value,
)
from publicpages.crossorigin import public_form
from ratelimit.limits import client_ip

AUTHOR_COOKIE_MAX_AGE = 365 * 24 * 3600
CONFIRMED_SALT = "comments.confirmed-address"
CONFIRMED_COOKIE_MAX_AGE = 365 * 24 * 3600


def _comments_path() -> str:
    """The URL prefix of the comment views (/comments/): the confirmed-address
    cookie goes with posts only, never with the pages a shared cache stores."""
    return reverse("comments:post", args=[0]).removesuffix("post/0/")


def _confirmed_email(request) -> str:
    """The address this browser proved it reads, by opening its confirmation link."""
    return request.get_signed_cookie(
        settings.COMMENTS_CONFIRMED_COOKIE,
        default="",
        salt=CONFIRMED_SALT,
        max_age=CONFIRMED_COOKIE_MAX_AGE,
    )


def _form_page(request, article, form, *, reply_to=None, status=400):
    return render(
        request,
        "comments/form_page.html",
        {
            "article": article,
            "form": form,
            "reply_to": reply_to,
            "cancel_reply_url": article.get_absolute_url() + "#respond",
        },
        status=status,
    )


@public_form
@require_POST
def post_comment(request, article_id):
    article = get_object_or_404(Article.objects.published(), pk=article_id)
    if not services.comments_open(article):
        return render(request, "comments/closed.html", {"article": article}, status=403)

    form = CommentForm(request.POST, article_id=article.pk)
    if not form.is_valid():
        return _form_page(request, article, form)
    data = form.cleaned_data
    parent = None
    if data["parent"]:
        parent = Comment.objects.filter(article=article, pk=data["parent"]).first()
        if parent is None:
            form.add_error(None, "The comment you replied to is no longer available.")
            return _form_page(request, article, form)

    try:
        comment = services.post_comment(
            article=article,
            name=data["name"],
            email=data["email"],
            url=data["url"],
            text=data["comment"],
            parent=parent,
            user=request.user,
            ip=client_ip(request) or None,
            notify=data["notify"],
            bot_reason="" if request.user.is_staff else form.bot_reason(),
            form_token=data["ts"],
            email_confirmed=_confirmed_email(request) == data["email"],
        )
    except services.CommentRefused as refused:
        if refused.status == 403:
            return render(
                request, "comments/closed.html", {"article": article}, status=403
            )
        form.add_error(None, refused.message)
        response = _form_page(
            request, article, form, reply_to=parent, status=refused.status
        )
        if refused.status == 429:
            response["Retry-After"] = str(settings.COMMENTS_FLOOD_SECONDS)
        return response

    response = HttpResponseRedirect(services.comment_url(comment), status=303)
    if comment.status != Comment.Status.APPROVED:
        response.set_signed_cookie(
            settings.COMMENTS_PENDING_COOKIE,
            pending_cookie_value(request, comment.pk),
            salt=PENDING_SALT,
            max_age=PENDING_MAX_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    if data["remember"]:
        response.set_signed_cookie(
            settings.COMMENTS_AUTHOR_COOKIE,
            author_cookie_value(
                name=data["name"], email=data["email"], url=data["url"]
            ),
            salt=AUTHOR_SALT,
            max_age=AUTHOR_COOKIE_MAX_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(settings.COMMENTS_AUTHOR_COOKIE, samesite="Lax")
    return response


@never_cache
@public_form
@require_http_methods(["GET", "POST"])
def confirm_address(request, token):
    """GET shows a button and changes nothing, so mail scanners that follow links
    confirm nothing; the button's POST confirms, and marks this browser as one
    that reads the address's mail."""
    try:
        comment = services.read_confirmation_token(token)
    except signing.BadSignature:
        comment = None
    if comment is None:
        return render(
            request, "comments/confirm_address.html", {"invalid": True}, status=400
        )
    if request.method == "POST":
        services.confirm_address(comment=comment)
        response = render(request, "comments/confirm_address.html", {"confirmed": True})
        response.set_signed_cookie(
            settings.COMMENTS_CONFIRMED_COOKIE,
            comment.author_email,
            salt=CONFIRMED_SALT,
            max_age=CONFIRMED_COOKIE_MAX_AGE,
            path=_comments_path(),
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
        return response
    return render(request, "comments/confirm_address.html", {})


@never_cache
@public_form  # RFC 8058 one-click: mail clients POST without a token.
@require_http_methods(["GET", "POST"])
def stop_follow_ups(request, token):
    """One click stops: the link in every notification, and List-Unsubscribe-Post."""
    address = services.read_stop_token(token)
    if address is None:
        return render(
            request, "comments/stop_follow_ups.html", {"invalid": True}, status=400
        )
    services.stop_follow_ups(email=address.email)
    return render(request, "comments/stop_follow_ups.html", {})
