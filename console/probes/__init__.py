"""drconsole probes package."""
