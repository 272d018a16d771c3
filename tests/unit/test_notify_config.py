"""`mail:`, `notify:` and `report:` in nmops.yaml: addresses, URLs and recipients checked, every
problem located, secrets references only and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmops.config.load import load_config
from nmops.config.notify import check_address, check_sender, check_url
from nmops.errors import ConfigError

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "nmops.yaml"
    path.write_text(f"inventory: {GOOD / 'inventory.yaml'}\n{body}", encoding="utf-8")
    return path


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, body))
    return info.value.problems


def test_full_mail_settings_load(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x", encoding="utf-8")
    config = load_config(
        write(
            tmp_path,
            """\
mail:
  smtp:
    host: smtp.example.net
    security: tls
    username: nmops
    password: {env: NMOPS_SMTP_PASSWORD}
    timeout: 10
    ca_file: ca.pem
  from: "nmops alerts <nmops@Example.NET>"
  to:
    - ops@example.net
    - {address: tanaka@example.jp, events: [open, resolve, report], language: ja}
notify:
  webhooks:
    - {url: "https://hooks.example.net/nmops?x=1", secret: {env: NMOPS_HOOK_KEY}, events: [open]}
  max_attempts: 5
report: {language: en}
""",
        )
    )
    mail = config.settings.mail
    assert mail is not None
    assert mail.smtp.effective_port == 465
    assert mail.smtp.ca_file == str(tmp_path / "ca.pem")
    assert mail.sender == "nmops alerts <nmops@example.net>"
    assert mail.from_address == "nmops@example.net"
    everything, tanaka = mail.to
    assert everything.events is None and everything.wants("remind") and everything.wants("report")
    assert tanaka.wants("open") and not tanaka.wants("remind") and tanaka.wants("test")
    assert tanaka.language == "ja"
    [hook] = config.settings.notify.webhooks
    assert hook.secret is not None and hook.secret.env == "NMOPS_HOOK_KEY"
    assert hook.wants("open") and not hook.wants("resolve")
    assert config.settings.report.language == "en"


def test_defaults_without_mail(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, "")).settings
    assert settings.mail is None
    assert settings.notify.webhooks == []
    assert settings.report.language == "ja"


def test_bad_mail_settings_are_located_and_never_echo_secrets(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
mail:
  smtp:
    host: "smtp example"
    security: ssl
    username: nmops
    password: hunter2
  from: "nmops@example.net\\r\\nBcc: victim@example.net"
  to: ["ops@@example.net", {address: a@example.net, events: [opened]}]
notify:
  webhooks:
    - {url: "ftp://hooks.example.net/x", secret: {env: K}}
    - {url: "https://user:8675309@hooks.example.net/"}
report: {language: fr}
""",
    )
    text = "\n".join(found)
    assert "hunter2" not in text and "8675309" not in text
    assert found == [
        "nmops.yaml:4: mail.smtp.host: 'smtp example' is not an IP address or a host name",
        "nmops.yaml:5: mail.smtp.security: Input should be 'starttls', 'tls' or 'none' (got 'ssl')",
        "nmops.yaml:7: mail.smtp.password: a secret is a reference, {env: VAR} or {file: PATH}, "
        "never the value",
        "nmops.yaml:8: mail.from: 'nmops@example.net\\r\\nBcc: victim@example.net' is not a mail "
        "address (whitespace or control characters)",
        "nmops.yaml:9: mail.to.0.address: 'ops@@example.net' is not a mail address (local@domain)",
        "nmops.yaml:9: mail.to.1.events.0: Input should be 'open', 'resolve', 'remind', "
        "'flapping', 'action', 'needs-human', 'test' or 'report' (got 'opened')",
        # A URL may carry a token: never shown back.
        "nmops.yaml:12: notify.webhooks.0.url: (not shown) is not an http:// or https:// URL",
        "nmops.yaml:13: notify.webhooks.1.url: the URL holds credentials; put them in `secret` "
        "instead",
        "nmops.yaml:14: report.language: Input should be 'ja' or 'en' (got 'fr')",
    ]
    for problem in found:
        assert "\n" not in problem and "\r" not in problem


def test_username_and_password_go_together(tmp_path: Path) -> None:
    [problem] = problems(
        tmp_path, "mail: {smtp: {host: h.example, username: u}, from: a@b.jp, to: [c@d.jp]}\n"
    )
    assert "give both `username` and `password`" in problem


@pytest.mark.parametrize(
    "value",
    [
        "ops@example.net\r\nBcc: x@example.net",
        "ops@example.net\n",
        "ops example@example.net",
        "ops@",
        "@example.net",
        "a..b@example.net",
        "ops@exa_mple.net",
        "\u00e9@example.net",
        "ops@example.net>",
    ],
)
def test_addresses_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_address(value)


def test_addresses_accepted() -> None:
    assert check_address("Ops.Team+nmops@Example.NET") == "Ops.Team+nmops@example.net"
    assert check_sender("nmops <a@example.net>") == "nmops <a@example.net>"
    assert check_sender("<a@example.net>") == "a@example.net"
    with pytest.raises(ValueError):
        check_sender('n"x <a@example.net>')
    with pytest.raises(ValueError):
        check_sender("n\rx <a@example.net>")


@pytest.mark.parametrize(
    "value",
    [
        "http://hooks.example.net/x y",
        "https://hooks.example.net/\r\nX-Injected: 1",
        "javascript:alert(1)",
        "https:///nohost",
        "https://u:p@example.net/",
        "https://example.net:99999/",
        "https://bad_host.example/",
    ],
)
def test_urls_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_url(value)


def test_urls_accepted() -> None:
    for url in ("https://hooks.example.net/a?b=c", "http://127.0.0.1:8080/hook", "http://[::1]/h"):
        assert check_url(url) == url


def test_auth_needs_tls(tmp_path: Path) -> None:
    smtp = "{host: h.example, security: none, username: u, password: {env: P}}"
    [problem] = problems(tmp_path, f"mail: {{smtp: {smtp}, from: a@b.jp, to: [c@d.jp]}}\n")
    assert "mail.smtp: AUTH without TLS sends the password in clear" in problem
