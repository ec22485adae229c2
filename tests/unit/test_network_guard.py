import socket

import pytest


def test_tests_cannot_reach_beyond_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OSError, match="loopback"):
        sock.connect(("198.51.100.7", 443))  # TEST-NET-2: never routed, and refused before trying


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
