"""
Local stand-ins for the cloud APIs this lab's drivers talk to: HTTP servers
on the loopback address that speak the real wire format and keep state, so
the real client libraries run against them unchanged.
"""
