from django.shortcuts import get_object_or_404, render

from articles.models import Article, Author, Category


def home(request):
    articles = Article.objects.published().select_related("category")[:20]
    return render(request, "articles/home.html", {"articles": articles})


def article_detail(request, slug):
    article = get_object_or_404(
        Article.objects.published().select_related("category"), slug=slug
    )
    return render(request, "articles/article_detail.html", {"article": article})


def category_detail(request, slug):
    category = get_object_or_404(Category, slug=slug)
    articles = Article.objects.published().filter(category=category)[:20]
    return render(
        request,
        "articles/article_list.html",
        {"heading": category.name, "articles": articles},
    )


def tag_detail(request, slug):
    articles = Article.objects.published().filter(tags__slug=slug)[:20]
    return render(
        request, "articles/article_list.html", {"heading": slug, "articles": articles}
    )


def author_detail(request, slug):
    author = get_object_or_404(Author, slug=slug)
    articles = author.articles.published()[:20]
    return render(
        request,
        "articles/article_list.html",
        {"heading": author.name, "articles": articles},
    )
