# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled hot edge of the VRRP daemon: codec, checksum, batched raw-socket I/O, clock.

Byte-for-byte twin of :mod:`fastalived.vrrp.codec` (which documents the wire format and owns the
shared ``Advert``/``Drop`` types); the cold-path frame builders are re-exported from it unchanged.
"""

from cpython.object cimport PyTypeObject
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from libc.errno cimport EAGAIN, EINTR, ENOBUFS, errno
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset, strerror
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from fastalived.vrrp.codec import (
    MCAST4,
    MCAST6,
    RECV_BUFFER_SIZE,
    RECV_CONTROL_SIZE,
    VRRP_PROTO,
    Advert,
    Drop,
    build_ethernet,
    build_garp,
    build_ipv6_header,
    build_unsolicited_na,
)

cdef extern from "Python.h":
    object PyType_GenericAlloc(PyTypeObject *subtype, Py_ssize_t items)

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    struct cmsghdr:
        size_t cmsg_len
        int cmsg_level
        int cmsg_type
    struct sockaddr:
        sa_family_t sa_family
    struct sockaddr_storage:
        sa_family_t ss_family
    cmsghdr *CMSG_FIRSTHDR(msghdr *msg)
    cmsghdr *CMSG_NXTHDR(msghdr *msg, cmsghdr *cmsg)
    unsigned char *CMSG_DATA(cmsghdr *cmsg)
    size_t CMSG_LEN(size_t length)
    int sendmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags)
    int recvmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags, timespec *timeout)
    int getsockopt(int fd, int level, int name, void *value, socklen_t *length)
    enum:
        AF_INET
        AF_INET6
        SOL_SOCKET
        SO_DOMAIN
        SCM_TIMESTAMPNS
        MSG_DONTWAIT

cdef extern from "<netinet/in.h>" nogil:
    enum:
        IPPROTO_IPV6
        IPV6_HOPLIMIT
    struct in_addr:
        uint32_t s_addr
    struct in6_addr:
        unsigned char s6_addr[16]
    struct sockaddr_in:
        sa_family_t sin_family
        uint16_t sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        sa_family_t sin6_family
        uint16_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    uint16_t htons(uint16_t value)
    uint32_t htonl(uint32_t value)

cdef extern from "<sys/timerfd.h>" nogil:
    struct itimerspec:
        timespec it_interval
        timespec it_value
    int timerfd_create(int clockid, int flags)
    int timerfd_settime(int fd, int flags, const itimerspec *new_value, itimerspec *old_value)
    enum:
        TFD_NONBLOCK
        TFD_CLOEXEC
        TFD_TIMER_ABSTIME

cdef extern from "<unistd.h>" nogil:
    ssize_t read(int fd, void *buffer, size_t count)

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int family, const char *text, void *packed)
    const char *inet_ntop(int family, const void *packed, char *text, socklen_t size)

cdef enum:
    BATCH = 64  # messages per sendmmsg/recvmmsg call
    RECV_SIZE = 4224  # == codec.RECV_BUFFER_SIZE, checked at import
    CONTROL_SIZE = 128  # == codec.RECV_CONTROL_SIZE
    VRRP_HEADER = 8
    V2_AUTH = 8
    ADVERT_FIELDS = 12  # == len(codec.Advert._fields)

if (RECV_BUFFER_SIZE != RECV_SIZE or RECV_CONTROL_SIZE != CONTROL_SIZE
        or len(Advert._fields) != ADVERT_FIELDS):
    raise ImportError("fastalived._vrrp was built against another codec; rebuild it")

cdef object _FORM_V2 = "v2"
cdef object _FORM_PSEUDO = "pseudo"
cdef object _FORM_NO_PSEUDO = "no-pseudo"
cdef object _EMPTY = b""
cdef object _TOO_SHORT = Drop.TOO_SHORT
cdef object _BAD_TTL = Drop.BAD_TTL
cdef object _BAD_VERSION = Drop.BAD_VERSION
cdef object _BAD_TYPE = Drop.BAD_TYPE
cdef object _BAD_VRID = Drop.BAD_VRID
cdef object _BAD_AUTH_TYPE = Drop.BAD_AUTH_TYPE
cdef object _BAD_AUTH_PASS = Drop.BAD_AUTH_PASS
cdef object _BAD_INTERVAL = Drop.BAD_INTERVAL
cdef object _BAD_CHECKSUM = Drop.BAD_CHECKSUM
cdef object _BAD_ADDR_COUNT = Drop.BAD_ADDR_COUNT
cdef object _NOT_A_PEER = Drop.NOT_A_PEER
cdef object _TRUNCATED = Drop.TRUNCATED
cdef object _BAD_IP_HEADER = Drop.BAD_IP_HEADER

cdef enum:  # field positions in the Advert named tuple
    F_VERSION = 0
    F_VRID = 2
    F_COUNT = 4
    F_AUTH_TYPE = 5
    F_INTERVAL = 6
    F_AUTH_DATA = 9
    F_SRC = 10
    F_TTL = 11


cdef inline bytes _as_bytes(object data):
    """``data`` itself when already bytes, else a copy of any buffer (bytearray, memoryview)."""
    if PyBytes_Check(data):
        return <bytes>data
    return memoryview(data).tobytes()


cdef inline uint64_t _word_sum(const uint8_t *data, Py_ssize_t size, uint64_t total) noexcept nogil:
    """Add the big-endian 16-bit words of ``data`` (odd tail zero-padded) to ``total``."""
    cdef Py_ssize_t i = 0
    while i + 1 < size:
        total += (<uint64_t>data[i] << 8) | data[i + 1]
        i += 2
    if size & 1:
        total += <uint64_t>data[size - 1] << 8
    return total


cdef inline uint16_t _finish(uint64_t total) noexcept nogil:
    """Fold carries back in and complement: the value to store in a checksum field."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return <uint16_t>(~total & 0xFFFF)


cdef inline uint64_t _pseudo_sum(const uint8_t *src, const uint8_t *dst, Py_ssize_t address_length,
                                 Py_ssize_t length) noexcept nogil:
    """Word sum of the IPv4/IPv6 pseudo-header for a protocol-112 payload of ``length``."""
    cdef uint64_t total = _word_sum(src, address_length, 0)
    total = _word_sum(dst, address_length, total)
    return total + 112 + (<uint64_t>length >> 16) + (length & 0xFFFF)


cdef inline void _put16(uint8_t *at, uint16_t value) noexcept nogil:
    at[0] = value >> 8
    at[1] = value & 0xFF


def internet_checksum(data, initial=0):
    """RFC 1071 checksum of ``data`` plus a partial word sum ``initial`` (0 <= initial < 2**32)."""
    if not 0 <= initial <= 0xFFFFFFFF:
        raise ValueError("initial must be a 32-bit partial sum")
    cdef bytes buffer = _as_bytes(data)
    cdef uint64_t start = initial
    return _finish(_word_sum(<const uint8_t *>PyBytes_AS_STRING(buffer), len(buffer), start))


def build_advert(int version, int vrid, int priority, int interval, addresses, *, int auth_type=0,
                 auth_data=b"", src=b"", dst=b"", bint pseudo_header=True):
    """Encode the VRRP payload (no IP header) exactly as keepalived sends it (see the codec)."""
    if version != 2 and version != 3:
        raise ValueError("version must be 2 or 3")
    if not 0 <= vrid <= 255 or not 0 <= priority <= 255:
        raise ValueError("vrid and priority must fit in a byte")
    if not 0 <= interval <= (255 if version == 2 else 0xFFF):
        raise ValueError("interval out of range for this VRRP version")
    cdef Py_ssize_t count = len(addresses)
    if count > 255:
        raise ValueError("at most 255 addresses fit in an advert")
    cdef list packed = [_as_bytes(address) for address in addresses]
    cdef bytes src_bytes = _as_bytes(src)
    cdef bytes dst_bytes = _as_bytes(dst)
    cdef Py_ssize_t address_length = len(packed[0]) if count else (len(src_bytes) if src_bytes else 4)
    if address_length != 4 and address_length != 16:
        raise ValueError("addresses must be packed IPv4 (4 bytes) or IPv6 (16 bytes)")
    for address in packed:
        if len(<bytes>address) != address_length:
            raise ValueError("all addresses must belong to one family")
    if version == 2 and address_length != 4:
        raise ValueError("VRRPv2 is IPv4 only")
    if version == 2 and not 0 <= auth_type <= 255:
        raise ValueError("auth_type must fit in a byte")
    cdef bint use_pseudo = version == 3 and (address_length == 16 or pseudo_header)
    if use_pseudo and (len(src_bytes) != address_length or len(dst_bytes) != address_length):
        raise ValueError("src and dst must be packed addresses of the advert's family")
    cdef bytes auth = _as_bytes(auth_data[:V2_AUTH]) if version == 2 else _EMPTY
    cdef Py_ssize_t size = VRRP_HEADER + count * address_length + (V2_AUTH if version == 2 else 0)
    cdef bytes result = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(result)
    cdef Py_ssize_t i
    out[0] = 0x21 if version == 2 else 0x31
    out[1] = vrid
    out[2] = priority
    out[3] = count
    if version == 2:
        out[4] = auth_type
        out[5] = interval
    else:
        _put16(out + 4, interval)
    out[6] = 0
    out[7] = 0
    for i in range(count):
        memcpy(out + VRRP_HEADER + i * address_length, PyBytes_AS_STRING(<bytes>packed[i]), address_length)
    if version == 2:
        memset(out + size - V2_AUTH, 0, V2_AUTH)
        memcpy(out + size - V2_AUTH, PyBytes_AS_STRING(auth), len(auth))
    cdef uint64_t initial = 0
    if use_pseudo:
        initial = _pseudo_sum(<const uint8_t *>PyBytes_AS_STRING(src_bytes),
                              <const uint8_t *>PyBytes_AS_STRING(dst_bytes), address_length, size)
    _put16(out + 6, _finish(_word_sum(out, size, initial)))
    return result


def advert_with_priority(advert, int priority):
    """Copy of a built advert with another priority, checksum patched incrementally (RFC 1624)."""
    cdef bytes original = _as_bytes(advert)
    cdef Py_ssize_t size = len(original)
    if size < VRRP_HEADER:
        raise ValueError("not a VRRP advert")
    if not 0 <= priority <= 255:
        raise ValueError("priority must fit in a byte")
    cdef bytes result = PyBytes_FromStringAndSize(PyBytes_AS_STRING(original), size)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(result)
    cdef uint64_t old_word = (<uint64_t>out[2] << 8) | out[3]
    cdef uint64_t new_word = (<uint64_t>priority << 8) | out[3]
    cdef uint64_t old_checksum = (<uint64_t>out[6] << 8) | out[7]
    # HC' = ~(~HC + ~m + m'), RFC 1624 eqn. 3; _finish does the final fold and complement.
    out[2] = priority
    _put16(out + 6, _finish((old_checksum ^ 0xFFFF) + (old_word ^ 0xFFFF) + new_word))
    return result


def build_ipv4_header(src, dst, int payload_len, ident, int ttl=255, int tos=0xC0):
    """IPv4 header as keepalived writes it with IP_HDRINCL: proto 112, DF clear, ID mod 2**16."""
    cdef bytes src_bytes = _as_bytes(src)
    cdef bytes dst_bytes = _as_bytes(dst)
    if len(src_bytes) != 4 or len(dst_bytes) != 4:
        raise ValueError("src and dst must be packed IPv4 addresses")
    if not 0 <= payload_len <= 0xFFFF - 20:
        raise ValueError("payload too long for IPv4")
    if not 0 <= ttl <= 255 or not 0 <= tos <= 255:
        raise ValueError("ttl and tos must fit in a byte")
    cdef uint16_t ident16 = ident & 0xFFFF
    cdef bytes result = PyBytes_FromStringAndSize(NULL, 20)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(result)
    out[0] = 0x45
    out[1] = tos
    _put16(out + 2, 20 + payload_len)
    _put16(out + 4, ident16)
    _put16(out + 6, 0)
    out[8] = ttl
    out[9] = 112
    _put16(out + 10, 0)
    memcpy(out + 12, PyBytes_AS_STRING(src_bytes), 4)
    memcpy(out + 16, PyBytes_AS_STRING(dst_bytes), 4)
    _put16(out + 10, _finish(_word_sum(out, 20, 0)))
    return result


def ipv4_with_id(packet, ident):
    """Copy of a pre-built IPv4 advert with another IP ID and its header checksum (see the codec)."""
    cdef bytes original = _as_bytes(packet)
    cdef Py_ssize_t size = len(original)
    if size < 20 or (<const uint8_t *>PyBytes_AS_STRING(original))[0] >> 4 != 4:
        raise ValueError("not an IPv4 packet")
    cdef Py_ssize_t header_len = ((<const uint8_t *>PyBytes_AS_STRING(original))[0] & 0x0F) * 4
    if header_len < 20 or header_len > size:
        raise ValueError("not an IPv4 packet")
    cdef uint16_t ident16 = ident & 0xFFFF
    cdef bytes result = PyBytes_FromStringAndSize(PyBytes_AS_STRING(original), size)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(result)
    _put16(out + 4, ident16)
    _put16(out + 10, 0)
    _put16(out + 10, _finish(_word_sum(out, header_len, 0)))
    return result


cdef inline void _fill(object advert, Py_ssize_t index, object value):
    Py_INCREF(value)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(advert, index, value)


cdef object _new_advert(const uint8_t *payload, Py_ssize_t size, Py_ssize_t address_length,
                        object form, object src, int ttl):
    """Build the shared ``Advert`` named tuple from a payload that passed every check.

    Allocates the tuple subclass and fills it directly, as ``tuple.__new__`` would, skipping
    the named tuple's Python-level ``__new__`` (a third of the decode time otherwise).
    """
    cdef int version = payload[0] >> 4
    cdef Py_ssize_t count = payload[3]
    cdef Py_ssize_t i
    addresses = PyTuple_New(count)
    for i in range(count):
        _fill(addresses, i, PyBytes_FromStringAndSize(
            <const char *>payload + VRRP_HEADER + i * address_length, address_length))
    if version == 2:
        auth_type = payload[4]
        interval = payload[5]
        auth_data = PyBytes_FromStringAndSize(<const char *>payload + size - V2_AUTH, V2_AUTH)
    else:
        auth_type = 0
        interval = ((payload[4] & 0x0F) << 8) | payload[5]
        auth_data = _EMPTY
    advert = PyType_GenericAlloc(<PyTypeObject *>Advert, ADVERT_FIELDS)
    for i, value in enumerate((version, 1, payload[1], payload[2], count, auth_type, interval, form,
                               addresses, auth_data, src, ttl)):
        _fill(advert, i, value)
    return advert


def decode_advert(packet, int family, *, bint has_ip_header, src=b"", dst=b"", int hop_limit=255,
                  bint accept_no_pseudo=False):
    """Decode one received packet and run the instance-independent checks (see the codec)."""
    if family != AF_INET and family != AF_INET6:
        raise ValueError("family must be AF_INET or AF_INET6")
    cdef Py_ssize_t address_length = 4 if family == AF_INET else 16
    cdef bytes data = _as_bytes(packet)
    cdef const uint8_t *raw = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = len(data)
    cdef const uint8_t *payload
    cdef const uint8_t *src_ptr
    cdef const uint8_t *dst_ptr
    cdef Py_ssize_t header_len, end
    cdef int ttl
    cdef bytes src_bytes, dst_bytes
    if has_ip_header:
        if family == AF_INET:
            if size < 20:
                return _TOO_SHORT
            header_len = (raw[0] & 0x0F) * 4
            if raw[0] >> 4 != 4 or header_len < 20 or raw[9] != 112:
                return _BAD_IP_HEADER
            if size < header_len:
                return _TOO_SHORT
            end = (<Py_ssize_t>raw[2] << 8) | raw[3]
            if end < header_len:
                return _BAD_IP_HEADER
            if end > size:
                return _TRUNCATED
            ttl = raw[8]
            src_ptr = raw + 12
            dst_ptr = raw + 16
        else:
            if size < 40:
                return _TOO_SHORT
            if raw[0] >> 4 != 6 or raw[6] != 112:
                return _BAD_IP_HEADER
            header_len = 40
            end = 40 + ((<Py_ssize_t>raw[4] << 8) | raw[5])
            if end > size:
                return _TRUNCATED
            ttl = raw[7]
            src_ptr = raw + 8
            dst_ptr = raw + 24
        payload = raw + header_len
        size = end - header_len
    else:
        src_bytes = _as_bytes(src)
        dst_bytes = _as_bytes(dst)
        if len(src_bytes) != address_length or len(dst_bytes) != address_length:
            raise ValueError("src and dst must be packed addresses of the given family")
        payload = raw
        ttl = hop_limit
        src_ptr = <const uint8_t *>PyBytes_AS_STRING(src_bytes)
        dst_ptr = <const uint8_t *>PyBytes_AS_STRING(dst_bytes)
    if size < VRRP_HEADER:
        return _TOO_SHORT
    cdef int version = payload[0] >> 4
    if (version != 2 and version != 3) or (version == 2 and address_length == 16):
        return _BAD_VERSION
    if payload[0] & 0x0F != 1:
        return _BAD_TYPE
    if version == 2:
        if _finish(_word_sum(payload, size, 0)) != 0:
            return _BAD_CHECKSUM
        form = _FORM_V2
    elif _finish(_word_sum(payload, size, _pseudo_sum(src_ptr, dst_ptr, address_length, size))) == 0:
        form = _FORM_PSEUDO
    elif accept_no_pseudo and address_length == 4 and _finish(_word_sum(payload, size, 0)) == 0:
        form = _FORM_NO_PSEUDO
    else:
        return _BAD_CHECKSUM
    if size != VRRP_HEADER + payload[3] * address_length + (V2_AUTH if version == 2 else 0):
        return _BAD_ADDR_COUNT
    source = PyBytes_FromStringAndSize(<const char *>src_ptr, address_length)
    return _new_advert(payload, size, address_length, form, source, ttl)


cdef bint _password_matches(object received, bytes password) except -1:
    """Whether the 8 auth bytes on the wire are ``password`` zero-padded to 8."""
    if not PyBytes_Check(received) or len(received) != V2_AUTH:
        return False
    cdef const uint8_t *wire = <const uint8_t *>PyBytes_AS_STRING(received)
    cdef const uint8_t *wanted = <const uint8_t *>PyBytes_AS_STRING(password)
    cdef Py_ssize_t length = len(password), i
    for i in range(V2_AUTH):
        if wire[i] != (wanted[i] if i < length else 0):
            return False
    return True


def validate_for_instance(adv, *, int version, int vrid, int auth_type, auth_pass,
                          int interval, bint multicast, peers, expected_addr_count=None):
    """The checks that need the receiving instance's config, in keepalived's order."""
    if not isinstance(adv, Advert):
        raise TypeError("validate_for_instance() needs an Advert from decode_advert()")
    cdef tuple fields = <tuple>adv
    ttl = <object>PyTuple_GET_ITEM(fields, F_TTL)
    if multicast and ttl != 255 and ttl != -1:  # -1: hop limit unknown, not checked
        return _BAD_TTL
    if <object>PyTuple_GET_ITEM(fields, F_VERSION) != version:
        return _BAD_VERSION
    if <object>PyTuple_GET_ITEM(fields, F_VRID) != vrid:
        return _BAD_VRID
    if version == 2:
        if <object>PyTuple_GET_ITEM(fields, F_AUTH_TYPE) != auth_type:
            return _BAD_AUTH_TYPE
        if auth_type == 1 and not _password_matches(<object>PyTuple_GET_ITEM(fields, F_AUTH_DATA),
                                                    _as_bytes(auth_pass[:V2_AUTH])):
            return _BAD_AUTH_PASS
        if <object>PyTuple_GET_ITEM(fields, F_INTERVAL) != interval:
            return _BAD_INTERVAL
    if expected_addr_count is not None and <object>PyTuple_GET_ITEM(fields, F_COUNT) != expected_addr_count:
        return _BAD_ADDR_COUNT
    if peers and <object>PyTuple_GET_ITEM(fields, F_SRC) not in peers:
        return _NOT_A_PEER
    return None


def monotonic():
    """Seconds on CLOCK_MONOTONIC, the same clock as ``time.monotonic``."""
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


cdef inline bint _would_block(int error) noexcept nogil:
    return error == EAGAIN or error == ENOBUFS  # EWOULDBLOCK is EAGAIN on Linux


cdef int _raise_errno(int error) except -1:
    raise OSError(error, strerror(error).decode())


cdef int _socket_family(int fd) except -1:
    cdef int family = 0
    cdef socklen_t length = sizeof(family)
    if getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &length) < 0:
        _raise_errno(errno)
    return family


cdef socklen_t _fill_sockaddr(int family, tuple dest, sockaddr_storage *out) except 0:
    """Write a numeric ``(host, port[, flowinfo[, scope_id]])`` tuple as a sockaddr."""
    cdef bytes host = dest[0].encode("ascii")
    cdef sockaddr_in *v4 = <sockaddr_in *>out
    cdef sockaddr_in6 *v6 = <sockaddr_in6 *>out
    memset(out, 0, sizeof(sockaddr_in6))
    if family == AF_INET:
        v4.sin_family = AF_INET
        v4.sin_port = htons(dest[1])
        if inet_pton(AF_INET, host, &v4.sin_addr) != 1:
            raise ValueError(f"not a numeric IPv4 address: {dest[0]!r}")
        return sizeof(sockaddr_in)
    v6.sin6_family = AF_INET6
    v6.sin6_port = htons(dest[1])
    if len(dest) > 2:
        v6.sin6_flowinfo = htonl(dest[2])
    if len(dest) > 3:
        v6.sin6_scope_id = dest[3]
    if inet_pton(AF_INET6, host, &v6.sin6_addr) != 1:
        raise ValueError(f"not a numeric IPv6 address: {dest[0]!r}")
    return sizeof(sockaddr_in6)


def send_many(int fd, packets, dests):
    """Send ``packets[i]`` to ``dests[i]`` with sendmmsg; return how many the kernel took.

    Stops at the first failure; EAGAIN/ENOBUFS is not an error, anything else is raised only
    when nothing was sent.
    """
    cdef Py_ssize_t total = len(packets)
    if total != len(dests):
        raise ValueError("one destination per packet")
    cdef int family = _socket_family(fd)
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef sockaddr_storage addresses[BATCH]
    cdef list held = [_as_bytes(packet) for packet in packets]  # keeps the buffers alive
    cdef Py_ssize_t sent = 0, start, i, chunk
    cdef int result, error
    cdef bytes packet
    while sent < total:
        start = sent
        chunk = min(BATCH, total - start)
        memset(messages, 0, sizeof(messages))
        for i in range(chunk):
            packet = <bytes>held[start + i]
            vectors[i].iov_base = PyBytes_AS_STRING(packet)
            vectors[i].iov_len = len(packet)
            messages[i].msg_hdr.msg_name = &addresses[i]
            messages[i].msg_hdr.msg_namelen = _fill_sockaddr(family, tuple(dests[start + i]),
                                                             &addresses[i])
            messages[i].msg_hdr.msg_iov = &vectors[i]
            messages[i].msg_hdr.msg_iovlen = 1
        with nogil:
            result = sendmmsg(fd, messages, <unsigned int>chunk, 0)
            error = errno
        if result < 0:
            if error == EINTR:
                continue
            if sent or _would_block(error):
                break
            _raise_errno(error)
        sent += result
        if result < chunk:
            break
    return sent


cdef uint8_t _recv_data[BATCH][RECV_SIZE]
cdef uint8_t _recv_control[BATCH][CONTROL_SIZE]
cdef sockaddr_in6 _recv_names[BATCH]


cdef int _hop_limit(msghdr *header) noexcept:
    """The IPV6_HOPLIMIT control message's value, or -1 when the kernel sent none."""
    cdef cmsghdr *item = CMSG_FIRSTHDR(header)
    cdef int value
    while item != NULL:
        if (item.cmsg_level == IPPROTO_IPV6 and item.cmsg_type == IPV6_HOPLIMIT
                and item.cmsg_len >= CMSG_LEN(sizeof(int))):
            memcpy(&value, CMSG_DATA(item), sizeof(int))
            return value
        item = CMSG_NXTHDR(header, item)
    return -1


cdef double _arrival(msghdr *header) noexcept:
    """The SCM_TIMESTAMPNS control message's CLOCK_REALTIME seconds, or 0.0 when the kernel sent
    none (SO_TIMESTAMPNS not enabled on the socket)."""
    cdef cmsghdr *item = CMSG_FIRSTHDR(header)
    cdef timespec stamp
    while item != NULL:
        if (item.cmsg_level == SOL_SOCKET and item.cmsg_type == SCM_TIMESTAMPNS
                and item.cmsg_len >= CMSG_LEN(sizeof(timespec))):
            memcpy(&stamp, CMSG_DATA(item), sizeof(timespec))
            return <double>stamp.tv_sec + <double>stamp.tv_nsec / 1e9
        item = CMSG_NXTHDR(header, item)
    return 0.0


cdef str _address_text(sockaddr_in6 *name):
    cdef char text[64]
    if name.sin6_family == AF_INET:
        inet_ntop(AF_INET, &(<sockaddr_in *>name).sin_addr, text, sizeof(text))
    elif name.sin6_family == AF_INET6:
        inet_ntop(AF_INET6, &name.sin6_addr, text, sizeof(text))
    else:
        return ""
    return text.decode("ascii")


cdef int _recv_batch(int fd, mmsghdr *messages, iovec *vectors, int wanted, int *error) noexcept:
    """One recvmmsg into the shared receive slots; returns its result, errno in ``error``."""
    cdef int i, result
    memset(messages, 0, sizeof(mmsghdr) * wanted)
    for i in range(wanted):
        vectors[i].iov_base = _recv_data[i]
        vectors[i].iov_len = RECV_SIZE
        messages[i].msg_hdr.msg_name = &_recv_names[i]
        messages[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6)
        messages[i].msg_hdr.msg_iov = &vectors[i]
        messages[i].msg_hdr.msg_iovlen = 1
        messages[i].msg_hdr.msg_control = _recv_control[i]
        messages[i].msg_hdr.msg_controllen = CONTROL_SIZE
    with nogil:
        result = recvmmsg(fd, messages, <unsigned int>wanted, MSG_DONTWAIT, NULL)
        error[0] = errno
    return result


cdef tuple _received(mmsghdr *messages, int i, Py_ssize_t size):
    """The ``(data, source, hop limit, arrival)`` tuple of receive slot ``i``."""
    return (
        PyBytes_FromStringAndSize(<char *>_recv_data[i], size),
        _address_text(&_recv_names[i]),
        _hop_limit(&messages[i].msg_hdr),
        _arrival(&messages[i].msg_hdr),
    )


def recv_many(int fd, int max_packets=64):
    """Read up to ``max_packets`` waiting packets with recvmmsg, never blocking.

    Returns ``(data, source address, hop limit or -1, arrival or 0.0)`` per packet (arrival:
    SCM_TIMESTAMPNS, CLOCK_REALTIME seconds); errors other than "nothing waiting" are raised only
    if nothing was read.
    """
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef list received = []
    cdef int wanted, result, error, i
    while len(received) < max_packets:
        wanted = min(BATCH, max_packets - len(received))
        result = _recv_batch(fd, messages, vectors, wanted, &error)
        if result < 0:
            if error == EINTR:
                continue
            if received or _would_block(error):
                break
            _raise_errno(error)
        for i in range(result):
            received.append(_received(messages, i, messages[i].msg_len))
        if result < wanted:
            break
    return received


def timer_open():
    """A non-blocking CLOCK_MONOTONIC timerfd (see the codec twin)."""
    cdef int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
    if fd < 0:
        _raise_errno(errno)
    return fd


def timer_set(int fd, deadline):
    """Arm the timerfd for the absolute monotonic ``deadline``; None disarms it."""
    cdef itimerspec spec
    cdef long long total
    memset(&spec, 0, sizeof(spec))
    cdef int flags = 0
    if deadline is not None:
        total = <long long>(<double>deadline * 1e9 + 0.5)
        if total < 1:
            total = 1
        spec.it_value.tv_sec = total // 1000000000
        spec.it_value.tv_nsec = total % 1000000000
        flags = TFD_TIMER_ABSTIME
    if timerfd_settime(fd, flags, &spec, NULL) < 0:
        _raise_errno(errno)


def timer_clear(int fd):
    """Consume the expiry count (0 when the timer has not fired)."""
    cdef uint64_t count = 0
    cdef ssize_t got = read(fd, &count, 8)
    if got != 8:
        return 0
    return count


cdef class SteadyTable:
    """Per VRID of one IPv4 socket: the packet whose exact repeat only restarts its instance's
    Master_Down_Timer, and that instance (see the codec twin)."""

    cdef public list templates
    cdef public list owners

    def __init__(self):
        self.templates = [None] * 256
        self.owners = [None] * 256

    def set(self, int vrid, packet, owner):
        self.templates[vrid & 0xFF] = bytes(packet)
        self.owners[vrid & 0xFF] = owner

    def clear(self, int vrid):
        self.templates[vrid & 0xFF] = None
        self.owners[vrid & 0xFF] = None

    def get(self, int vrid):
        return self.templates[vrid & 0xFF]


cdef inline bint _steady_same(const uint8_t *template, const uint8_t *data, Py_ssize_t size) noexcept nogil:
    """Equal but for TOS (1), IP ID (4-5) and header checksum (10-11)."""
    if data[0] != template[0] or data[2] != template[2] or data[3] != template[3]:
        return False
    if memcmp(data + 6, template + 6, 4) != 0:
        return False
    return memcmp(data + 12, template + 12, size - 12) == 0


def steady_match(template, data):
    """Whether ``data`` repeats ``template`` in everything but TOS, IP ID and header checksum."""
    cdef bytes t = _as_bytes(template)
    cdef bytes d = _as_bytes(data)
    if len(t) != len(d) or len(d) < 20:
        return False
    return _steady_same(<const uint8_t *>PyBytes_AS_STRING(t), <const uint8_t *>PyBytes_AS_STRING(d), len(d))


def recv_sorted(int fd, SteadyTable table, int max_packets=64):
    """recv_many on an IPv4 raw socket, split into the owners of packets that repeat their
    VRID's template and every other packet (see the codec twin)."""
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef list hits = []
    cdef list received = []
    cdef list templates = table.templates
    cdef list owners = table.owners
    cdef int wanted, result, error, i, count = 0
    cdef Py_ssize_t size, header_len
    cdef int vrid
    cdef object template
    while count < max_packets:
        wanted = min(BATCH, max_packets - count)
        result = _recv_batch(fd, messages, vectors, wanted, &error)
        if result < 0:
            if error == EINTR:
                continue
            if count or _would_block(error):
                break
            _raise_errno(error)
        for i in range(result):
            size = messages[i].msg_len
            vrid = -1
            if size >= 20:
                header_len = (_recv_data[i][0] & 0x0F) * 4
                if size >= header_len + 2:
                    vrid = _recv_data[i][header_len + 1]
            if vrid >= 0:
                template = templates[vrid]
                if (template is not None and len(<bytes>template) == size
                        and _steady_same(<const uint8_t *>PyBytes_AS_STRING(<bytes>template), _recv_data[i], size)):
                    hits.append((owners[vrid], _arrival(&messages[i].msg_hdr)))
                    continue
                templates[vrid] = None
                owners[vrid] = None
            received.append(_received(messages, i, size))
        count += result
        if result < wanted:
            break
    return hits, received
