"""Programs that start labs of their own (tests, screenshot tours) never take a net in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from console.lab.layout import LabLayout
from console.lab.nets import reserve_net
from console.lab.profiles import every_port


def test_a_net_held_by_another_reservation_is_skipped() -> None:
    net, lock = reserve_net([97, 98])
    try:
        assert net == 97
        other, other_lock = reserve_net([97, 98])
        other_lock.close()
        assert other == 98
    finally:
        lock.close()
    again, lock = reserve_net([97])
    lock.close()
    assert again == 97


def test_a_net_where_a_lab_port_listens_is_skipped() -> None:
    address, port = every_port(LabLayout(Path("/nonexistent"), 96))[0]
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen()
        net, lock = reserve_net([96, 95])
        lock.close()
        assert net == 95
        with pytest.raises(RuntimeError, match=r"no free lab net among \[96\]"):
            reserve_net([96])
