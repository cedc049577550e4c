"""The floor every role stands on: what the VRRP, checker and IPVS roles and the daemon share.

The ``Role`` contract and metric samples, running operators' commands, ordered background jobs,
alert mail and netlink framing. Modules here import only the standard library and
:mod:`fastalived.config`; never a role (``vrrp``, ``check``, ``ipvs``) nor the daemon, so any of
them can build on it without an import cycle (``tests/unit/test_architecture.py`` enforces it).
"""
