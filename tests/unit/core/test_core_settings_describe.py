"""Settings as start-up log lines: every value of a section, no secret."""

from __future__ import annotations

from core.settings import Settings
from core.settings.describe import MASK, describe

SECRET = "s3cr3t-DO-NOT-LOG"


def test_describe_masks_secrets_and_url_passwords() -> None:
    """Passwords, tokens, webhook URLs and URL passwords print as the mask, the rest as is."""
    settings = Settings(
        mqtt={"url": f"mqtts://vendor:{SECRET}@broker.example:8883", "password": SECRET},
        influxdb={"url": "https://influx.example:8086", "token": SECRET},
        alert={
            "webhooks": [
                {"name": "ops", "url": f"https://hooks.example/x?access_token={SECRET}",
                 "secret": SECRET}
            ]
        },
    )  # fmt: skip
    lines = describe(settings, ("mqtt", "influxdb", "alert"))
    text = "\n".join(lines)
    assert SECRET not in text
    assert f"url=mqtts://vendor:{MASK}@broker.example:8883" in lines[0]
    assert f"password={MASK}" in lines[0]
    assert "url=https://influx.example:8086" in lines[1]
    assert f"token={MASK}" in lines[1]
    assert '"name":"ops"' in lines[2]
    assert lines[-1].startswith("settings: run_dir=")


def test_describe_lists_every_field_of_a_section_in_order() -> None:
    """Defaults are values too: each field of the section appears once, in the model's order."""
    settings = Settings()
    (line, _) = describe(settings, ("collector",))
    fields = [pair.split("=", 1)[0] for pair in line.removeprefix("settings collector: ").split()]
    assert fields == list(type(settings.collector).model_fields)
