"""The watcher (a process of its own) takes the charm's TLS files from its settings file."""

import json

from redis_k8s import connection, master_watcher


def test_the_watcher_settings_configure_its_connections_tls_and_back_to_plain(tmp_path):
    path = tmp_path / "watcher.json"
    tls = {"enabled": True, "ca": "/charm/.redis-k8s-tls/ca.pem", "cert": None, "key": None}
    path.write_text(json.dumps({"sentinels": [], "tls": tls}))
    settings = master_watcher.Settings(str(path))
    try:
        assert settings.reload()
        assert connection.current_tls() == connection.Tls(**tls)
        path.write_text(json.dumps({"sentinels": [], "tls": None}))
        import os
        os.utime(str(path), ns=(1, 1))
        assert settings.reload()
        assert connection.current_tls() is None
    finally:
        connection.configure_tls(None)
