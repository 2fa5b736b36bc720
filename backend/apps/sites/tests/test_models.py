import pytest
from django.core.exceptions import ValidationError

from apps.sites.models import Site

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", ["SITE042", "ponte-nord_1", "Viadotto.A", "città", "x"])
def test_site_code_that_is_one_topic_level_is_accepted(code: str) -> None:
    Site(name="Bridge", code=code).full_clean()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("SITE/42", "slash"),
        ("SITE+", "'+' wildcard"),
        ("SITE#", "'#' wildcard"),
        ("SITE 42", "whitespace"),
        ("SITE\t42", "whitespace"),
        ("SITE\x0042", "control characters"),
        ("SITE\u200b42", "control characters"),  # zero-width space: invisible, category Cf
        ("$SYS", "may not start with '$'"),
    ],
)
def test_site_code_that_is_not_one_topic_level_is_rejected_with_reason(code: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Site(name="Bridge", code=code).full_clean()
    assert message in " ".join(excinfo.value.message_dict["code"])


def test_empty_site_code_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Site(name="Bridge", code="").full_clean()
    assert "code" in excinfo.value.message_dict


def test_unknown_time_zone_is_rejected_and_known_one_gives_zoneinfo() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Site(name="Bridge", code="B1", time_zone="Mars/Olympus").full_clean()
    assert "not a known IANA time zone" in excinfo.value.message_dict["time_zone"][0]
    site = Site(name="Bridge", code="B1", time_zone="Europe/Rome")
    site.full_clean()
    assert site.zoneinfo.key == "Europe/Rome"


def test_site_code_is_unique(make_site) -> None:
    make_site(code="DUP")
    with pytest.raises(ValidationError) as excinfo:
        Site(name="Other", code="DUP").full_clean()
    assert "code" in excinfo.value.message_dict
