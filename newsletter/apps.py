from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"
    verbose_name = "Newsletter"

    def ready(self):
        # Connects the receiver of the email service's bounces and complaints.
        from . import webhooks  # noqa: F401
