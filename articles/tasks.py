"""Background work for articles, run by `manage.py db_worker`."""

from django.tasks import task

from articles import workflow


@task
def notify_editors() -> int:
    """One email listing the articles submitted for review since the last one."""
    return workflow.send_editors_notice()
