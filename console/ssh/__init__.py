"""drconsole ssh package."""
