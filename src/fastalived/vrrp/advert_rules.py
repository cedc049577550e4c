"""What one instance accepts from a received advert: the RFC 5798 §7.1 checks that depend on its
configuration, in keepalived's order (the router runs them after the codec's packet checks)."""

from __future__ import annotations

from dataclasses import dataclass

from fastalived.config.model import Config, VrrpInstance
from fastalived.vrrp import ah, wire
from fastalived.vrrp.machine import vrrp_interval_field

AUTH_TYPES = {None: 0, "PASS": 1, "AH": 2}


@dataclass(frozen=True, slots=True)
class AdvertRules:
    """What an instance accepts: the settings of the RFC 5798 §7.1 checks that depend on it."""

    version: int
    auth_type: int
    auth_pass: bytes
    multicast: bool  # TTL / hop limit 255 is checked for multicast adverts only
    accept_no_pseudo: bool  # v3_checksum_as_v2: RFC 9568's checksum form
    interval: int  # the v2 interval field that must match ours
    address_count: int | None  # None with vrrp_skip_check_adv_addr
    peers: frozenset[bytes] | None  # unicast: the only sources heard
    ah_key: bytes | None = None  # auth_type AH: the HMAC key (None: adverts must come without AH)

    @classmethod
    def of(cls, cfg: VrrpInstance, config: Config) -> AdvertRules:
        peers = frozenset(p.packed for p in cfg.unicast_peers) or None
        vips = [s for s in cfg.virtual_ipaddresses if s.family == cfg.family]
        return cls(
            version=cfg.version,
            auth_type=AUTH_TYPES[cfg.auth_type],
            auth_pass=cfg.auth_pass or b"",
            multicast=peers is None,
            accept_no_pseudo=cfg.v3_checksum_as_v2,
            interval=vrrp_interval_field(cfg.version, cfg.advert_int),
            address_count=None if cfg.skip_check_adv_addr else len(vips),
            peers=peers,
            ah_key=ah.key_of(cfg.auth_pass or b"") if ah.uses_ah(cfg) else None,
        )

    def violation(
        self, advert: wire.Advert, sealed: ah.Sealed | None = None, counter: ah.SeqCounter | None = None
    ) -> wire.Drop | ah.AhDrop | None:
        """The first check ``advert`` fails, in keepalived's order: AH present as configured, the
        codec's protocol checks (TTL, version, checksum form, auth type and password), the AH
        ICV, SPI and sequence number against ``counter`` (``sealed``: the AH the advert came
        in), then the v2 interval, the address count, the peers."""
        if (sealed is None) != (self.ah_key is None):
            return ah.AhDrop.AH_MISSING if sealed is None else ah.AhDrop.AH_UNEXPECTED
        reason = wire.check_advert(advert, version=self.version, auth_type=self.auth_type, auth_pass=self.auth_pass,
                                   multicast=self.multicast, accept_no_pseudo=self.accept_no_pseudo)  # fmt: skip
        if reason is not None:
            return reason
        if sealed is not None and self.ah_key is not None:
            ah_reason = ah.authenticate(sealed, self.ah_key, not self.multicast, counter or ah.SeqCounter())
            if ah_reason is not None:
                return ah_reason
        if self.version == 2 and advert.interval != self.interval:
            return wire.Drop.BAD_INTERVAL
        if self.address_count is not None and advert.count != self.address_count:
            return wire.Drop.BAD_ADDR_COUNT
        if self.peers and advert.src not in self.peers:
            return wire.Drop.NOT_A_PEER
        return None
