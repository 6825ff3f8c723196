"""Integration tests: the real integration against the local simulator over loopback HTTP."""
