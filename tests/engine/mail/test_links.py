"""Click and open tracking: web links go through signed click tokens, one pixel per email."""

from __future__ import annotations

import re

import pytest

from engine.mail import (
    RenderedEmail,
    read_click,
    read_open,
    sign_token,
    track_links,
    unsubscribe_url,
    verify_token,
)

SECRET = "a-long-random-server-secret"
BASE = "https://go.northwind.example/"
KEY = "lead-1/welcome/1"
UNSUBSCRIBE = unsubscribe_url(BASE, "lead-1", SECRET)


def _email(body: str) -> RenderedEmail:
    return RenderedEmail(subject="Hi", text="Plain https://northwind.example/text",
                         html=f"<html><body>{body}</body></html>")


def _track(body: str) -> tuple[str, list[str]]:
    tracked = track_links(_email(body), send_key=KEY, base_url=BASE, secret=SECRET,
                          skip=(UNSUBSCRIBE,))
    return tracked.email.html, tracked.links


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def _clicked(href: str) -> tuple[str, int] | None:
    assert href.startswith("https://go.northwind.example/t/c/"), href
    return read_click(href.rsplit("/", 1)[1], SECRET)


def test_web_links_go_through_click_tracking_in_order() -> None:
    html, links = _track('<a href="https://northwind.example/guide">Guide</a>'
                         '<a href="http://northwind.example/roi">ROI</a>')

    assert links == ["https://northwind.example/guide", "http://northwind.example/roi"]
    assert [_clicked(h) for h in _hrefs(html)] == [(KEY, 0), (KEY, 1)]


def test_links_that_are_not_web_links_stay_as_they_are() -> None:
    body = ('<a href="mailto:maya@northwind.example">Mail</a><a href="tel:+15550100">Call</a>'
            '<a href="#top">Top</a><a href="/relative">Rel</a>'
            '<a href="ftp://files.northwind.example/x">FTP</a>')

    html, links = _track(body)

    assert links == []
    assert _hrefs(html) == ["mailto:maya@northwind.example", "tel:+15550100", "#top",
                            "/relative", "ftp://files.northwind.example/x"]


def test_the_unsubscribe_link_stays_direct() -> None:
    html, links = _track(f'<a href="https://northwind.example/a">A</a>'
                         f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>')

    assert links == ["https://northwind.example/a"]
    assert _hrefs(html)[1] == UNSUBSCRIBE


def test_a_repeated_link_shares_one_index() -> None:
    html, links = _track('<a href="https://northwind.example/demo">Book</a>'
                         '<a href="https://northwind.example/blog">Blog</a>'
                         '<a href="https://northwind.example/demo">Book again</a>')

    assert links == ["https://northwind.example/demo", "https://northwind.example/blog"]
    assert [_clicked(h) for h in _hrefs(html)] == [(KEY, 0), (KEY, 1), (KEY, 0)]


def test_html_escaped_ampersands_are_unescaped_in_the_recorded_link() -> None:
    _, links = _track('<a href="https://northwind.example/p?utm_source=email&amp;utm_medium=x">'
                      'P</a><a href="https://northwind.example/p?utm_source=email&utm_medium=x">'
                      'Same</a>')

    assert links == ["https://northwind.example/p?utm_source=email&utm_medium=x"]


def test_one_open_pixel_is_added_before_the_end_of_the_body() -> None:
    html, _ = _track('<a href="https://northwind.example/a">A</a>')

    pixels = re.findall(r'<img src="https://go\.northwind\.example/t/o/([^"]+)"', html)
    assert len(pixels) == 1
    assert read_open(pixels[0], SECRET) == KEY
    assert html.endswith('alt="" style="display:block;border:0;width:1px;height:1px;">'
                         '</body></html>')


def test_html_without_a_body_tag_gets_the_pixel_at_the_end() -> None:
    rendered = RenderedEmail(subject="Hi", text="t", html="<p>short</p>")

    tracked = track_links(rendered, send_key=KEY, base_url=BASE, secret=SECRET)

    assert tracked.email.html.startswith("<p>short</p><img src=")
    assert tracked.email.html.count("<img") == 1


def test_the_text_part_and_subject_are_left_alone() -> None:
    rendered = _email('<a href="https://northwind.example/a">A</a>')

    tracked = track_links(rendered, send_key=KEY, base_url=BASE, secret=SECRET)

    assert (tracked.email.subject, tracked.email.text) == (rendered.subject, rendered.text)


def _tamper(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def test_a_tampered_click_token_reads_as_nothing() -> None:
    html, _ = _track('<a href="https://northwind.example/a">A</a>')
    token = _hrefs(html)[0].rsplit("/", 1)[1]
    other_value = sign_token('["lead-2/welcome/1", 0]', SECRET, purpose="click").split(".")[0]

    assert read_click(_tamper(token), SECRET) is None
    assert read_click(other_value + "." + token.split(".")[1], SECRET) is None
    assert read_click(token, "another-secret") is None


def test_a_tampered_open_token_reads_as_nothing() -> None:
    token = sign_token(KEY, SECRET, purpose="open")

    assert read_open(token, SECRET) == KEY
    assert read_open(_tamper(token), SECRET) is None
    assert read_open(token, "another-secret") is None


def test_tokens_only_work_for_their_own_purpose() -> None:
    html, _ = _track('<a href="https://northwind.example/a">A</a>')
    click = _hrefs(html)[0].rsplit("/", 1)[1]
    opened = sign_token(KEY, SECRET, purpose="open")
    unsubscribe = UNSUBSCRIBE.rsplit("/", 1)[1]

    assert read_click(opened, SECRET) is None
    assert read_click(unsubscribe, SECRET) is None
    assert read_open(click, SECRET) is None
    assert read_open(unsubscribe, SECRET) is None
    assert verify_token(click, SECRET) is None
    assert verify_token(opened, SECRET) is None


@pytest.mark.parametrize("value", ['"just a string"', '["key"]', '["key", "0"]',
                                   '["key", true]', '[1, 0]', '{"key": 0}', "not json",
                                   '["key", 0, "extra"]'])
def test_a_genuine_click_token_with_a_malformed_value_reads_as_nothing(value: str) -> None:
    assert read_click(sign_token(value, SECRET, purpose="click"), SECRET) is None
