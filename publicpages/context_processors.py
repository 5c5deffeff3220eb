from django.conf import settings
from django.utils.functional import cached_property

from publicpages.generation import (
    lifetime_until_next_publication,
    public_pages_generation,
    static_files_version,
)


class FragmentCache:
    """
    What Django's {% cache %} tag needs to keep a part of a public page that is the
    same for every reader (the "template_fragments" cache: settings.CACHES):

        {% cache fragment_cache.timeout story fragment_cache.version article.pk %}

    `version` names the generation of the public pages (publicpages/generation.py)
    and the release's static files: a change readers see, or a release with new
    CSS and JS, misses every stored fragment at once. `timeout` is
    FRAGMENT_CACHE_SECONDS cut short so no fragment outlives the moment the next
    scheduled article goes live; 0, nothing is kept, while fragments are off or
    the cache holding the generation cannot be reached.

    Rules for a fragment: it holds nothing personal (no form, CSRF token, CSP
    nonce, nothing that depends on the user or the cookies); everything it shows
    changes only with the generation or with the values it is keyed on; the data
    it shows is loaded lazily (articles.views.StoryParts, comments.section.Threads),
    so a page served from fragments runs none of those queries.
    """

    @cached_property
    def _generation(self) -> int:
        if not settings.FRAGMENT_CACHE_SECONDS:
            return 0
        return public_pages_generation(max_age=settings.PAGE_CACHE_GENERATION_SECONDS)

    @cached_property
    def version(self) -> str:
        return f"{self._generation}-{static_files_version()}"

    @cached_property
    def timeout(self) -> int:
        if not self._generation:
            return 0
        # At least a second: Django's caches keep nothing for a timeout of 0.
        return max(
            lifetime_until_next_publication(
                settings.FRAGMENT_CACHE_SECONDS, self._generation
            ),
            1,
        )


def fragment_cache_in(context) -> FragmentCache:
    """The page's FragmentCache, for a template tag to use or hand on to its own
    template; a new one where a template is rendered without this processor."""
    return context.get("fragment_cache") or FragmentCache()


def fragment_cache(request):
    # Read on first use: a page without fragments never asks for the generation.
    return {"fragment_cache": FragmentCache()}
