from tests.factories import make_article


def test_home_lists_a_published_article(client, db):
    article = make_article(title="Water returns to Lake Sevan")
    response = client.get("/")
    assert response.status_code == 200
    assert article.title in response.content.decode()
