"""The settings helpers accept good values and name the variable when they reject a bad one."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_networks, env_str, env_url, parse_database_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("False", False), ("no", False)],
)
def test_env_bool_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv("SIPDESK_FLAG", raw)
    assert env_bool("SIPDESK_FLAG") is expected


def test_env_bool_default_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("SIPDESK_FLAG", raising=False)
    assert env_bool("SIPDESK_FLAG", True) is True
    monkeypatch.setenv("SIPDESK_FLAG", "  ")
    assert env_bool("SIPDESK_FLAG", False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please", "t"])
def test_env_bool_rejects(monkeypatch, raw):
    monkeypatch.setenv("SIPDESK_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="SIPDESK_FLAG"):
        env_bool("SIPDESK_FLAG")


def test_env_int(monkeypatch):
    monkeypatch.setenv("SIPDESK_N", " 42 ")
    assert env_int("SIPDESK_N", 1) == 42
    monkeypatch.setenv("SIPDESK_N", "-3")
    assert env_int("SIPDESK_N", 1) == -3
    monkeypatch.delenv("SIPDESK_N")
    assert env_int("SIPDESK_N", 7) == 7


@pytest.mark.parametrize(("raw", "bounds", "why"), [
    ("ten", {}, "must be an integer"),
    ("1.5", {}, "must be an integer"),
    ("0", {"minimum": 1}, ">= 1"),
    ("513", {"maximum": 512}, "<= 512"),
])  # fmt: skip
def test_env_int_rejects(monkeypatch, raw, bounds, why):
    monkeypatch.setenv("SIPDESK_N", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SIPDESK_N {why}" if "integer" in why else "SIPDESK_N") as exc:
        env_int("SIPDESK_N", 1, **bounds)
    assert why in str(exc.value)


def test_env_list(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", " a.example.com, b.example.com ,,")
    assert env_list("DJANGO_ALLOWED_HOSTS") == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "")
    assert env_list("DJANGO_ALLOWED_HOSTS", ["x"]) == []
    monkeypatch.delenv("DJANGO_ALLOWED_HOSTS")
    assert env_list("DJANGO_ALLOWED_HOSTS", ["x"]) == ["x"]


def test_env_str_strips(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "  s3cret \n")
    assert env_str("DJANGO_SECRET_KEY") == "s3cret"


def test_env_url(monkeypatch):
    monkeypatch.delenv("SIPDESK_WEBHOOK_PUBLIC_URL", raising=False)
    assert env_url("SIPDESK_WEBHOOK_PUBLIC_URL") == ""
    monkeypatch.setenv("SIPDESK_WEBHOOK_PUBLIC_URL", " https://hooks.example.com/webhooks/8x8/ ")
    assert env_url("SIPDESK_WEBHOOK_PUBLIC_URL") == "https://hooks.example.com/webhooks/8x8/"


@pytest.mark.parametrize("raw", ["hooks.example.com/webhooks/8x8/", "ftp://hooks.example.com/", "https://"])
def test_env_url_rejects(monkeypatch, raw):
    monkeypatch.setenv("SIPDESK_WEBHOOK_PUBLIC_URL", raw)
    with pytest.raises(ImproperlyConfigured, match="SIPDESK_WEBHOOK_PUBLIC_URL"):
        env_url("SIPDESK_WEBHOOK_PUBLIC_URL")


def test_env_networks(monkeypatch):
    monkeypatch.setenv("SIPDESK_WEBHOOK_ALLOWED_IPS", "203.0.113.7, 198.51.100.0/24, 2001:db8::/32")
    networks = env_networks("SIPDESK_WEBHOOK_ALLOWED_IPS")
    assert networks == [
        ipaddress.ip_network("203.0.113.7/32"),
        ipaddress.ip_network("198.51.100.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    ]
    assert ipaddress.ip_address("198.51.100.99") in networks[1]


@pytest.mark.parametrize("raw", ["203.0.113.300", "example.com", "10.0.0.0/33", "1.2.3.4, nope"])
def test_env_networks_rejects(monkeypatch, raw):
    monkeypatch.setenv("SIPDESK_WEBHOOK_ALLOWED_IPS", raw)
    with pytest.raises(ImproperlyConfigured, match="SIPDESK_WEBHOOK_ALLOWED_IPS"):
        env_networks("SIPDESK_WEBHOOK_ALLOWED_IPS")


def test_parse_database_url_postgres():
    db = parse_database_url("postgres://user:p%40ss@db.internal:6543/sip%20desk?sslmode=require")
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "sip desk",
        "USER": "user",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }
    assert parse_database_url("postgresql://localhost/sipdesk")["PORT"] == ""


def test_parse_database_url_refuses_sqlite_with_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL only"):
        parse_database_url("sqlite:///var/db.sqlite3")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@localhost/sipdesk",
        "postgres://localhost:5432/",
        "postgres://localhost:notaport/sipdesk",
        "sqlite://",
        "sqlite:///var/db.sqlite3",
        "localhost/sipdesk",
    ],
)
def test_parse_database_url_rejects(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url(url)


def test_parse_database_url_names_the_variable_it_came_from():
    with pytest.raises(ImproperlyConfigured, match="REPLICA_URL"):
        parse_database_url("redis://localhost/0", name="REPLICA_URL")
