"""Test-only helpers: namespace testbeds, packet sniffer, keepalived/fastalived node runners."""
