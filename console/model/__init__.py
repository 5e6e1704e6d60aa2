"""drconsole model package."""
