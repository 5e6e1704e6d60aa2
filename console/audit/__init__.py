"""drconsole audit package."""
