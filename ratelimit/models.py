from django.db import models


class Window(models.Model):
    """The hits counted against one key (an IP address, an email address, a
    throttle's name) since `started_at`. A row whose `expires_at` has passed counts
    for nothing: the next hit starts a new window in it, and old rows are deleted
    as new ones are made."""

    key = models.CharField(max_length=400)
    count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            # One window per key, so concurrent first hits cannot both start one.
            models.UniqueConstraint(fields=["key"], name="ratelimit_window_key_unique"),
        ]
        indexes = [
            # Deleting expired windows (ratelimit.limits.delete_expired_windows).
            models.Index(fields=["expires_at"], name="ratelimit_window_expires"),
        ]
        verbose_name = "rate limit window"
        verbose_name_plural = "rate limit windows"

    def __str__(self):
        return f"{self.key}: {self.count} since {self.started_at:%Y-%m-%d %H:%M:%S}"
