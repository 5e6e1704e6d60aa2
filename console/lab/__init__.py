"""drconsole lab package."""
