# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The VRRP daemon's C-only edge: batched raw-socket I/O with its control messages, timerfd, clock.

recvmmsg/sendmmsg, the IPV6_HOPLIMIT and SCM_TIMESTAMPNS control messages, the timerfd and
CLOCK_MONOTONIC have no pure-Python equivalent at this cost, so they are written in Cython here;
the receive loop also recognises steady adverts without creating Python objects. The codec is
``vrrp/codec.py`` (compiled separately, in pure mode); ``vrrp/rawsock.py`` is this module's
pure-Python stand-in and owns the ``SteadyTable`` that ``recv_sorted`` reads.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE
from libc.errno cimport EAGAIN, EINTR, ENOBUFS, errno
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset, strerror
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

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
    int close(int fd)

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int family, const char *text, void *packed)
    const char *inet_ntop(int family, const void *packed, char *text, socklen_t size)

cdef enum:
    BATCH = 64  # messages per sendmmsg/recvmmsg call
    FIRST_BATCH = 8  # a wakeup's first recvmmsg: mostly one packet, so only these slots are set up
    RECV_SIZE = 4224  # == rawsock.RECV_BUFFER_SIZE: any valid VRRP packet with its IP header
    CONTROL_SIZE = 128  # == rawsock.RECV_CONTROL_SIZE


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


def send_many(int fd, packets, dests, int family=0):
    """Send ``packets[i]`` to ``dests[i]`` with sendmmsg; return how many the kernel took.

    Stops at the first failure; EAGAIN/ENOBUFS is not an error, anything else is raised only
    when nothing was sent. ``family``: the socket's, when the caller knows it (else asked).
    """
    cdef Py_ssize_t total = len(packets)
    if total != len(dests):
        raise ValueError("one destination per packet")
    if family == 0:
        family = _socket_family(fd)
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef sockaddr_storage addresses[BATCH]
    cdef list held = [bytes(packet) for packet in packets]  # keeps the buffers alive
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
        wanted = min(BATCH if received else FIRST_BATCH, max_packets - len(received))
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
    """A non-blocking CLOCK_MONOTONIC timerfd, the loop's one protocol timer (see rawsock)."""
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


cdef inline bint _steady_same(const uint8_t *template, const uint8_t *data, Py_ssize_t size) noexcept nogil:
    """Equal but for TOS (1), IP ID (4-5) and header checksum (10-11)."""
    if data[0] != template[0] or data[2] != template[2] or data[3] != template[3]:
        return False
    if memcmp(data + 6, template + 6, 4) != 0:
        return False
    return memcmp(data + 12, template + 12, size - 12) == 0


def steady_match(template, data):
    """Whether ``data`` repeats ``template`` in everything but TOS, IP ID and header checksum."""
    cdef bytes t = bytes(template)  # the object itself when it already is bytes
    cdef bytes d = bytes(data)
    if len(t) != len(d) or len(d) < 20:
        return False
    return _steady_same(<const uint8_t *>PyBytes_AS_STRING(t), <const uint8_t *>PyBytes_AS_STRING(d), len(d))


cdef inline double _seconds(int clock) noexcept nogil:
    cdef timespec now
    clock_gettime(clock, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


cdef class Watch:
    """A steady backup's Master_Down_Timer, restarted without the Python loop.

    A ``SteadyTable`` owner (see ``vrrp/pacing.py``): ``recv_sorted`` gives each exact repeat of
    the instance's master's advert straight to the machine (``VrrpMachine.steady_advert``, what
    ``VrrpRouter.steady_advert`` does, counted on the router's instance as there) and keeps the
    deadline here; its :class:`WatchSet` calls ``on_expire`` when the deadline comes.

    While the machine is as ``steady_advert`` last left it (the deadline it set, the same state,
    priority and Master_Adver_Interval), a repeat only moves the deadline by the same
    ``master_down_interval``: ``hear`` then writes it without the Python call, tens of thousands of
    times a second with hundreds of instances. Anything else goes through ``steady_advert``.
    """

    cdef readonly double deadline
    cdef public bint active
    cdef readonly object binding  # the owner the role's own steady path expects
    cdef readonly object on_expire
    cdef object machine, inst
    cdef object wset  # the WatchSet serving it, once added
    cdef object state, priority, adver_int  # the machine's, as steady_advert last saw them
    cdef double interval  # its master_down_interval then; 0.0: not known yet

    def __init__(self, machine, inst, binding, double deadline, on_expire):
        self.machine, self.inst, self.binding, self.on_expire = machine, inst, binding, on_expire
        self.deadline = deadline
        self.active = True
        self.interval = 0.0

    cpdef int hear(self, double at) except -1:
        """One exact repeat at ``at``: 1 when applied, 0 when the role must take it instead."""
        cdef object machine = self.machine
        cdef object current
        cdef double deadline
        if not self.active or self.deadline <= at:
            return 0
        current = machine._master_down_deadline if self.interval > 0.0 else None
        if (type(current) is float and PyFloat_AS_DOUBLE(current) == self.deadline
                and machine.state is self.state and machine.effective_priority is self.priority
                and machine.master_adver_int is self.adver_int):
            deadline = at + self.interval  # what steady_advert computes, as it is unchanged
            machine._master_down_deadline = deadline
        else:
            result = machine.steady_advert(at)
            if result is None:
                self.interval = 0.0
                return 0
            deadline = result
            self.state, self.priority = machine.state, machine.effective_priority
            self.adver_int = machine.master_adver_int
            self.interval = machine.master_down_interval  # the sum steady_advert adds, exactly
        self.deadline = deadline
        self.inst.adverts_received += 1
        return 1


cdef class WatchSet:
    """Every :class:`Watch` of a scheduler behind one timerfd, armed for the earliest deadline
    as it was when armed: repeats only move deadlines later, so when it fires the deadlines are
    looked at once, the due ones expire (``on_expire()``) and it is armed for the new earliest."""

    cdef readonly int fd
    cdef double armed  # 0.0: disarmed
    cdef list watches

    def __init__(self):
        self.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            _raise_errno(errno)
        self.watches = []
        self.armed = 0.0

    def __len__(self):
        return len(self.watches)

    cdef int _arm(self, double deadline) except -1:
        cdef itimerspec spec
        cdef long long total = <long long>(deadline * 1e9 + 0.5)
        memset(&spec, 0, sizeof(spec))
        if deadline > 0.0:
            spec.it_value.tv_sec = total // 1000000000
            spec.it_value.tv_nsec = total % 1000000000
            if total < 1:
                spec.it_value.tv_nsec = 1
        if timerfd_settime(self.fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0:
            _raise_errno(errno)
        self.armed = deadline
        return 0

    def add(self, Watch watch):
        self.watches.append(watch)
        watch.wset = self
        if self.armed == 0.0 or watch.deadline < self.armed:
            self._arm(watch.deadline)

    cpdef int refresh(self, double now) except -1:
        """After repeats moved deadlines: arm for the earliest one once the armed expiry is in
        the first half of what is left before it, so a steady backup neither wakes up before
        its deadline (a wasted tick every few adverts) nor re-arms on every advert."""
        cdef double earliest = 0.0
        cdef Watch watch
        for watch in self.watches:
            if earliest == 0.0 or watch.deadline < earliest:
                earliest = watch.deadline
        if earliest > self.armed > 0.0 and self.armed - now < (earliest - now) * 0.5:
            self._arm(earliest)
        return 0

    def remove(self, Watch watch):
        watch.active = False
        if watch in self.watches:
            self.watches.remove(watch)

    def tick(self):
        """The timerfd's reader: expire the due watches, arm for the earliest of the rest."""
        cdef uint64_t expirations = 0
        cdef double now, earliest = 0.0
        cdef Watch watch
        if self.fd < 0 or read(self.fd, &expirations, 8) != 8:
            return
        now = _seconds(CLOCK_MONOTONIC) + 0.0002  # io.TIMER_SLACK
        due = [w for w in self.watches if (<Watch>w).deadline <= now]
        for watch in due:
            if watch.active:
                watch.on_expire()  # may read the sockets (moving deadlines) or drop the watch
        for watch in self.watches:
            if earliest == 0.0 or watch.deadline < earliest:
                earliest = watch.deadline
        self._arm(earliest)

    def close(self):
        for watch in self.watches:
            (<Watch>watch).active = False
        self.watches = []
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1


def recv_sorted(int fd, table, int max_packets=64):
    """recv_many on an IPv4 raw socket, split into the owners of packets that repeat their
    VRID's template in ``table`` (a ``rawsock.SteadyTable``) and every other packet (see there);
    repeats whose owner is a :class:`Watch` go to it, counted in ``table.handled``."""
    return _recv_sorted(fd, table, max_packets)


cdef class SteadyReader:
    """The loop's reader of an IPv4 socket with a steady table: one ``recv_sorted`` batch per
    wakeup, and the role called (``on_read(hits, packets, count)``) only when a packet is for it
    or more than one arrived (a burst the role may wait for); errors go to ``on_error()``, the
    role's own reader, which reads again and reports them."""

    cdef int fd
    cdef object table, on_read, on_error

    def __init__(self, int fd, table, on_read, on_error):
        self.fd, self.table, self.on_read, self.on_error = fd, table, on_read, on_error

    def __call__(self):
        cdef tuple result
        try:
            result = _recv_sorted(self.fd, self.table, BATCH)
        except OSError:
            self.on_error()
            return
        hits, packets = result
        cdef Py_ssize_t count = len(<list>hits) + len(<list>packets) + <Py_ssize_t>self.table.handled
        if hits or packets or count > 1:
            self.on_read(hits, packets, count)


cdef tuple _recv_sorted(int fd, table, int max_packets):
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef list hits = []
    cdef list received = []
    cdef list templates = table.templates
    cdef list owners = table.owners
    cdef int wanted, result, error, i, count = 0
    cdef Py_ssize_t size, header_len
    cdef int vrid, handled = 0
    cdef object template, owner
    cdef object wset = None  # the WatchSet of the last watch that took a repeat
    cdef double now = 0.0, offset, stamp, at
    while count < max_packets:
        wanted = min(BATCH if count else FIRST_BATCH, max_packets - count)
        result = _recv_batch(fd, messages, vectors, wanted, &error)
        if result < 0:
            if error == EINTR:
                continue
            if count or _would_block(error):
                break
            _raise_errno(error)
        now = _seconds(CLOCK_MONOTONIC)
        offset = now - _seconds(CLOCK_REALTIME)  # arrival stamps are CLOCK_REALTIME
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
                    owner = owners[vrid]
                    stamp = _arrival(&messages[i].msg_hdr)
                    if type(owner) is Watch:
                        at = stamp + offset
                        if at > now or stamp == 0.0:
                            at = now
                        if (<Watch>owner).hear(at):
                            handled += 1
                            if (<Watch>owner).wset is not wset:
                                if wset is not None:
                                    (<WatchSet>wset).refresh(now)
                                wset = (<Watch>owner).wset
                            continue
                        owner = (<Watch>owner).binding
                    hits.append((owner, stamp))
                    continue
                templates[vrid] = None
                owners[vrid] = None
            received.append(_received(messages, i, size))
        count += result
        if result < wanted:
            break
    if wset is not None:
        (<WatchSet>wset).refresh(now)
    table.handled = handled
    return hits, received


cdef class Pacer:
    """A steady master's adverts, sent from its own periodic timerfd without the Python loop.

    The role engages it for a master whose only pending timer is the Adver_Timer and that
    shares its advert_int with no other master (``vrrp/pacing.py``). At each expiry ``tick``
    asks the machine (``advert_due``, the same fast path the loop uses) and sends the pre-built
    packets with sendmmsg, the IPv4 ID counted up as ``AdvertSender`` does; the role's counters
    follow. Anything else (a changed sender or priority, a machine that declines) calls
    ``on_stale`` with nothing done, and the loop's scheduler takes the instance back.

    While the machine is as ``advert_due`` last left it (the Adver_Timer it re-armed being the
    one served here, the same state, no other timer), the expiry re-arms it as ``advert_due``
    would, without the Python call.
    """

    cdef readonly int fd  # the timerfd
    cdef readonly double next  # the Adver_Timer's deadline being served (monotonic seconds)
    cdef readonly long long ip_id
    cdef readonly int send_errors
    cdef int sock, count, priority
    cdef bint ipv4
    cdef double period
    cdef object machine, binding, sender, on_stale
    cdef object state  # the machine's state when advert_due last agreed; None: ask it
    cdef list packets  # bytearray per destination, patched in place
    cdef mmsghdr messages[BATCH]
    cdef iovec vectors[BATCH]
    cdef sockaddr_storage addresses[BATCH]

    def __init__(self, int sock, int family, packets, dests, bint ipv4, long long ip_id, double period,
                 double first, machine, binding, sender, int priority, on_stale):
        cdef Py_ssize_t i
        cdef bytearray packet
        self.fd = -1
        self.count = len(packets)
        if self.count != len(dests) or not 0 < self.count <= BATCH:
            raise ValueError("one destination per packet, 1 to 64 of them")
        self.sock, self.ipv4, self.ip_id, self.period, self.next = sock, ipv4, ip_id, period, first
        self.machine, self.binding, self.sender, self.priority = machine, binding, sender, priority
        self.on_stale = on_stale
        self.packets = [bytearray(p) for p in packets]
        memset(self.messages, 0, sizeof(self.messages))
        for i in range(self.count):
            packet = <bytearray>self.packets[i]
            if ipv4 and (len(packet) < 20 or len(packet) < (packet[0] & 0x0F) * 4):
                raise ValueError("not an IPv4 packet")
            self.vectors[i].iov_base = PyByteArray_AS_STRING(packet)
            self.vectors[i].iov_len = len(packet)
            self.messages[i].msg_hdr.msg_name = &self.addresses[i]
            self.messages[i].msg_hdr.msg_namelen = _fill_sockaddr(family, tuple(dests[i]), &self.addresses[i])
            self.messages[i].msg_hdr.msg_iov = &self.vectors[i]
            self.messages[i].msg_hdr.msg_iovlen = 1
        self.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            _raise_errno(errno)
        self._arm(first)

    cdef int _arm(self, double deadline) except -1:
        """Expire at ``deadline``, then every period (the kernel keeps the grid)."""
        cdef itimerspec spec
        cdef long long total = <long long>(deadline * 1e9 + 0.5)
        cdef long long step = <long long>(self.period * 1e9 + 0.5)
        if total < 1:
            total = 1
        spec.it_value.tv_sec = total // 1000000000
        spec.it_value.tv_nsec = total % 1000000000
        spec.it_interval.tv_sec = step // 1000000000
        spec.it_interval.tv_nsec = step % 1000000000
        if timerfd_settime(self.fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0:
            _raise_errno(errno)
        return 0

    cdef void _stamp_ids(self) noexcept:
        """The next IP ID in every IPv4 packet, and its header checksum."""
        cdef Py_ssize_t i, k, header_len
        cdef uint8_t *data
        cdef uint32_t total
        cdef uint16_t ident
        for i in range(self.count):
            self.ip_id += 1
            ident = <uint16_t>(self.ip_id & 0xFFFF)
            data = <uint8_t *>self.vectors[i].iov_base
            header_len = (data[0] & 0x0F) * 4
            data[4] = ident >> 8
            data[5] = ident & 0xFF
            data[10] = 0
            data[11] = 0
            total = 0
            for k in range(0, header_len, 2):
                total += (data[k] << 8) | data[k + 1]
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            total = ~total & 0xFFFF
            data[10] = total >> 8
            data[11] = total & 0xFF

    def tick(self):
        """The timerfd's reader: serve one expiry (see the class)."""
        cdef uint64_t expirations = 0
        cdef timespec clock
        cdef double now, following
        cdef int result
        if self.fd < 0 or read(self.fd, &expirations, 8) != 8 or not expirations:
            return
        clock_gettime(CLOCK_MONOTONIC, &clock)
        now = clock.tv_sec + clock.tv_nsec * 1e-9
        if now < self.next:  # the kernel's nanosecond grid may run a hair ahead of the float one
            now = self.next
        cdef object machine = self.machine
        cdef object current = None
        if self.binding.sender is not self.sender or machine.effective_priority != self.priority:
            self.on_stale()
            return
        if self.state is not None:
            current = machine._adver_deadline
        cdef bint unchanged = (
            type(current) is float and PyFloat_AS_DOUBLE(current) == self.next and machine.state is self.state
            and machine._master_down_deadline is None and machine._garp_delayed_deadline is None
            and machine._garp_refresh_deadline is None and machine._garp_lower_deadline is None)
        if not unchanged:
            if machine.advert_due(now) is None:
                self.state = None
                self.on_stale()
                return
            self.state = machine.state
        following = self.next + self.period  # what the machine's _rearm did (or does, below)
        if following <= now:  # a stall: skip ahead, as the machine does
            following = now + self.period
            self._arm(following)
        if unchanged:
            machine._adver_deadline = following
        self.next = following
        if self.ipv4:
            self._stamp_ids()
        with nogil:
            result = sendmmsg(self.sock, self.messages, <unsigned int>self.count, MSG_DONTWAIT)
        if result < self.count:
            self.send_errors += self.count - (result if result > 0 else 0)
        self.binding.adverts_sent += self.count
        self.sender.ip_id = self.ip_id

    def close(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1
