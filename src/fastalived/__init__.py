"""fastalived: a keepalived-compatible VRRP speaker, health checker and IPVS director."""

__version__ = "0.1.0"
