"""Helpers for tests on the managed lab's Redis Cluster."""

from __future__ import annotations

from console.lab import cluster
from console.lab.layout import LabLayout
from tests.support.lab import RunningLab


def layout_of(lab: RunningLab) -> LabLayout:
    """The running lab's layout."""
    return LabLayout.create(lab.lab.directory, lab.net)


def cluster_back(lab: RunningLab) -> list[str]:
    """Put the cluster's masters back one per site (after a dark site or a drill); the
    placement problems left (empty: back as ``lab up`` made it)."""
    return cluster.restore_placement(lab.lab.runner(), layout_of(lab), lab.lab.bins())
