"""drconsole engine package."""
