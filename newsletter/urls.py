from django.urls import path

from . import views

app_name = "newsletter"

urlpatterns = [
    path("", views.index, name="index"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("check-your-inbox/", views.check_inbox, name="check_inbox"),
    # Before the token routes: "confirm/archive/" is an archive (a token is
    # never "archive").
    path("<slug:slug>/archive/", views.archive, name="archive"),
    path("<slug:slug>/archive/<int:issue_id>/", views.issue, name="issue"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribed/", views.unsubscribed, name="unsubscribed"),
    path("webhooks/<str:provider>/", views.provider_webhook, name="webhook"),
]
