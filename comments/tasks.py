"""Background work for comments, run by `manage.py db_worker`."""

from django.tasks import task

from comments import services


@task
def notify_moderators() -> int:
    """One email listing the comments held since the last one."""
    return services.send_moderator_notice()


@task
def send_confirmation(comment_id: int) -> bool:
    return services.send_confirmation(comment_id=comment_id)


@task
def send_reply_notifications(comment_ids: list[int]) -> int:
    return services.send_reply_notifications(comment_ids=comment_ids)
