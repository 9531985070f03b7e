"""Text fields refuse control characters; e-mail addresses are checked and normalised."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pydantic
import pytest

from server import fields, validation
from server.email_address import normalise_email
from server.routes import ROUTE_MODULES
from server.text import forbidden_characters

ONE_LINE_TYPES = {
    "fields.Name": fields.Name, "fields.ShortText": fields.ShortText,
    "fields.MediumText": fields.MediumText, "fields.Tag": fields.Tag,
    "fields.Keyword": fields.Keyword, "fields.Phone": fields.Phone,
    "fields.LoginEmail": fields.LoginEmail, "fields.Email": fields.Email,
}
MULTI_LINE_TYPES = {"fields.LongText": fields.LongText, "fields.Body": fields.Body}
ALL_TYPES = {**ONE_LINE_TYPES, **MULTI_LINE_TYPES}
# C0, DEL, C1 (NEL), the file/group/record/unit separators Python splits lines on, a
# bidi override, a zero-width space, a BOM.
CONTROLS = ["\x00", "\x07", "\x1b", "\x1c", "\x1d", "\x1e", "\x1f", "\x7f", "\x85",
            "\u202e", "\u200b", "\ufeff"]
LINE_BREAKS = ["\n", "\r", "\t", "\u2028", "\u2029", "\x0b", "\x0c"]


def accepts(kind: Any, value: str) -> bool:
    try:
        pydantic.TypeAdapter(kind).validate_python(value)
    except pydantic.ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", ALL_TYPES)
@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_shared_text_type_refuses_control_characters(name: str, char: str) -> None:
    kind = ALL_TYPES[name]
    assert accepts(kind, "ayse.kaya@firm.test")
    assert not accepts(kind, f"ayse{char}kaya@firm.test")
    assert not accepts(kind, f"ayse.kaya@firm.test{char}")


@pytest.mark.parametrize("name", ONE_LINE_TYPES)
@pytest.mark.parametrize("char", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_one_line_types_refuse_line_breaks(name: str, char: str) -> None:
    assert not accepts(ONE_LINE_TYPES[name], f"ayse{char}kaya@firm.test")


@pytest.mark.parametrize("name", MULTI_LINE_TYPES)
def test_long_texts_keep_tabs_line_breaks_and_emoji(name: str) -> None:
    text = "Salon:\n\t- parke (meşe)\r\n- 👩\u200d💻 onaylandı\u2028son"
    assert accepts(MULTI_LINE_TYPES[name], text)


def test_texts_with_unicode_and_non_breaking_spaces_pass() -> None:
    for kind in ONE_LINE_TYPES.values():
        assert accepts(kind, "Oğuz Çelik@firm.test") is (kind not in (
            fields.Email, fields.LoginEmail))
    assert forbidden_characters("İstanbul\u00a0Şişli") == []


def _str_fields() -> list[tuple[str, str, Any]]:
    """Every field of every request model of the routes, with its full annotation."""
    models: list[type[pydantic.BaseModel]] = []
    for module in ROUTE_MODULES:
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, validation.ApiModel)
                    and value.__module__ == module.__name__):
                models.append(value)
    found = []
    for model in models:
        for name, info in model.model_fields.items():
            kind = Annotated[(info.annotation, *info.metadata)] if info.metadata \
                else info.annotation
            found.append((f"{model.__module__}.{model.__name__}.{name}", name, kind))
    return found


# Passwords are compared, never shown or mailed: a sign-in takes what was set before
# (new passwords are checked by the policy); `specification` is free-form JSON.
EXEMPT = {"password", "current_password", "new_password", "specification"}


@pytest.mark.parametrize(("where", "name", "kind"), _str_fields(),
                         ids=[f[0] for f in _str_fields()])
def test_no_request_field_takes_a_control_character(where: str, name: str, kind: Any) -> None:
    if name in EXEMPT:
        return
    bad = "ab\x1dcd"
    adapter = pydantic.TypeAdapter(kind)
    for value in (bad, [bad]):
        try:
            adapter.validate_python(value)
        except pydantic.ValidationError:
            continue
        pytest.fail(f"{where} ({typing.get_origin(kind) or kind}) accepts {value!r}")


@pytest.mark.parametrize(("raw", "stored"), [
    ("Deniz.Yilmaz@Example.TEST", "Deniz.Yilmaz@example.test"),
    ("ayse.kaya@firm.test", "ayse.kaya@firm.test"),
    ("elif@formula-demo.test", "elif@formula-demo.test"),
    ("ops@site.example.com", "ops@site.example.com"),
    ("ayşe@firma.com.tr", "ayşe@firma.com.tr"),
])
def test_addresses_the_project_uses_stay_valid(raw: str, stored: str) -> None:
    assert normalise_email(raw) == stored


@pytest.mark.parametrize("raw", [
    "a\x1db@x.example.com", "ab@x.example.com\x1c", "a b@x.example.com", "a@b",
    "a@localhost", "a@[127.0.0.1]", "Name <a@x.example.com>", "a..b@x.example.com",
    "a@x.invalid", "a\nBcc: victim@x.example.com@x.example.com",
])
def test_bad_addresses_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        normalise_email(raw)
