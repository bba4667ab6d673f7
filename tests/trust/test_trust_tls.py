"""An external NATS server with TLS and a user: the runtime connects with nats_client settings."""

from __future__ import annotations

import pytest

from kit.errors import BusError, ConfigError
from kit.natsserver import EmbeddedNats
from kit.settings import NatsClientSettings, NatsSettings, Settings
from kit.testing_pki import loopback_pki
from kit.trust.natsclient import external_options


@pytest.fixture
async def external_tls(tmp_path):
    """A separate nats-server with TLS and one user (stands in for a site's central server)."""
    pki = loopback_pki(tmp_path)
    extra = [
        "tls {",
        f'  cert_file: "{pki["cert"]}"',
        f'  key_file: "{pki["key"]}"',
        f'  ca_file: "{pki["ca"]}"',
        "}",
        "authorization {",
        '  users = [{user: "gw1", password: "s3cret-pass"}]',
        "}",
    ]
    server = EmbeddedNats(
        NatsSettings(port=0), tmp_path / "ext", server_name="external", auth_lines=extra
    )
    await server.start()
    try:
        yield server, pki
    finally:
        await server.stop()


async def test_runtime_connects_to_external_tls_server_with_credentials(
    tmp_path, external_tls, make_runtime, temp_plugin
):
    server, pki = external_tls
    # make_runtime stops the runtimes before the external_tls fixture stops the server.
    url = f"tls://127.0.0.1:{server.port}"
    good = Settings(
        site="t",
        data_dir=tmp_path / "d",
        nats_url=url,
        nats_client=NatsClientSettings(tls_ca=pki["ca"], user="gw1", password="s3cret-pass"),
    )
    rt = await make_runtime(good, host=temp_plugin(load_entrypoints=False))
    assert rt.bus.nc.is_connected and rt.bus.nc.client_id is not None
    info = await rt.bus.js.stream_info("KIT_DATA")  # provisioned over TLS
    assert info.config.name == "KIT_DATA"
    # Without the CA the server certificate is not trusted: clear error, nothing started.
    bad = good.model_copy(
        update={
            "data_dir": tmp_path / "d2",
            "nats_client": NatsClientSettings(user="gw1", password="s3cret-pass"),
        }
    )
    with pytest.raises(BusError, match="TLS .* failed"):
        await make_runtime(bad, host=temp_plugin(load_entrypoints=False))


def test_tls_settings_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="tls_key"):
        external_options(NatsClientSettings(tls_cert=tmp_path / "c.pem"))
    with pytest.raises(ConfigError, match="cannot load TLS files"):
        external_options(NatsClientSettings(tls_ca=tmp_path / "missing.pem"))
