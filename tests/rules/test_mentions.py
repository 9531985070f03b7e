"""Mention parsing: `@first.last` and `@email`, and what is not a mention."""

from __future__ import annotations

import uuid

from rules.mentions import Named, parse_mentions, snippet, sort_out


def test_names_and_emails() -> None:
    found = parse_mentions("@ayse.kaya please check with @Mehmet.Demir and @ali@formula.test.")
    assert found.names == {("ayse", "kaya"), ("mehmet", "demir")}
    assert found.emails == {"ali@formula.test"}


def test_turkish_letters_and_hyphens() -> None:
    found = parse_mentions("cc @Işıl.Öztürk-Yılmaz")
    assert found.names == {("işıl", "öztürk-yılmaz")}  # SQL compares unaccented


def test_plain_addresses_and_words_are_not_mentions() -> None:
    found = parse_mentions("mail ayse@formula.test, user@host, @alone, x@y.z, a.@b, @.x")
    assert not found
    assert found.emails == set() and found.names == set()


def test_an_email_mention_is_not_also_a_name() -> None:
    found = parse_mentions("@ayse.kaya@formula.test")
    assert found.emails == {"ayse.kaya@formula.test"}
    assert found.names == set()


def test_mentions_are_capped() -> None:
    body = " ".join(f"@u{i}.x" for i in range(80))
    assert len(parse_mentions(body).names) == 50


def test_snippet() -> None:
    assert snippet("  a\n b  ") == "a b"
    assert len(snippet("x" * 500)) == 200


def test_sort_out_says_why_someone_is_left_out() -> None:
    author, member, outsider, gone = (uuid.uuid4() for _ in range(4))
    named = [
        Named("@a.b", member, active=True, can_see=True),
        Named("@a@b.test", member, active=True, can_see=True),  # the same user twice
        Named("@o.s", outsider, active=True, can_see=False),
        Named("@g.a", gone, active=False, can_see=True),
        Named("@me.me", author, active=True, can_see=True),
        Named("@no.body", None, active=False, can_see=False),
    ]
    outcome = sort_out(named, author, shared=True)
    assert outcome.mentionable == [member]
    assert [(e["handle"], e["reason"]) for e in outcome.skipped] == [
        ("@o.s", "not_a_member"), ("@g.a", "inactive"), ("@me.me", "author"),
        ("@no.body", "unknown_user")]
    assert "user_id" not in outcome.skipped[-1]
    assert outcome.report([]) == {
        "notified": [], "not_notified": [*outcome.skipped,
                                         {"user_id": str(member), "reason": "already_notified"}]}
    assert outcome.report([member])["notified"] == [str(member)]
