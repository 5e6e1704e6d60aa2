"""drconsole report package."""
