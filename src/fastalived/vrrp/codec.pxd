# C types for the pure-mode compile of codec.py (see setup.py): the per-packet helpers become C
# functions, byte reads and writes go through C pointers, the public functions stay Python-callable.
import cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport uint64_t


cdef extern from "Python.h":
    object PyType_GenericAlloc(PyTypeObject *subtype, Py_ssize_t items)


cdef inline tuple _sliced_tuple(const unsigned char *raw, Py_ssize_t first, Py_ssize_t count,
                                Py_ssize_t length):
    """The ``count`` slices of ``length`` bytes from ``raw + first`` as a tuple, built in place."""
    cdef tuple result = PyTuple_New(count)
    cdef Py_ssize_t i
    for i in range(count):
        item = PyBytes_FromStringAndSize(<const char *>raw + first + i * length, length)
        Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
        PyTuple_SET_ITEM(result, i, item)
    return result


cdef inline object _new_tuple_subclass(type cls, tuple items):
    """``tuple.__new__(cls, items)`` straight from the C API (compiled builds only)."""
    cdef Py_ssize_t size = PyTuple_GET_SIZE(items), i
    cdef object result = PyType_GenericAlloc(<PyTypeObject *>cls, size)
    for i in range(size):
        item = <object>PyTuple_GET_ITEM(items, i)
        Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
        PyTuple_SET_ITEM(result, i, item)
    return result


cdef int _PROTO
cdef int _TTL
cdef int _NO_HOP_LIMIT
cdef int _AF_INET
cdef int _AF_INET6
cdef Py_ssize_t _VRRP_HEADER_LEN
cdef Py_ssize_t _V2_AUTH_LEN
cdef Py_ssize_t _IPV4_HEADER_LEN
cdef Py_ssize_t _IPV6_HEADER_LEN
cdef bytes _ZEROS
cdef bytes _IPV4_TEMPLATE

cdef bytes _as_bytes(object data)

@cython.locals(raw="const unsigned char *", i=Py_ssize_t)
cdef uint64_t _word_sum(bytes data, Py_ssize_t start, Py_ssize_t end, uint64_t total) noexcept

cdef unsigned int _complement_of_sum(uint64_t total) noexcept

cdef uint64_t _addresses_sum(bytes src, bytes dst) noexcept

cdef uint64_t _pseudo_header_sum(uint64_t addresses_sum, Py_ssize_t length, int protocol) noexcept

@cython.locals(raw="const unsigned char *")
cdef bytes _writable(bytes data, Py_ssize_t size)

cdef bytes _frozen(bytes buffer)

@cython.locals(out="unsigned char *", raw="const unsigned char *", i=Py_ssize_t)
cdef int _put_bytes(bytes buffer, Py_ssize_t at, bytes data) except -1

@cython.locals(checksum="unsigned int", out="unsigned char *")
cdef bytes _with_checksum(bytes buffer, Py_ssize_t at, Py_ssize_t start, Py_ssize_t end, uint64_t initial)

@cython.locals(length=Py_ssize_t)
cdef Py_ssize_t _address_length(object addresses, object src) except -1

@cython.locals(count=Py_ssize_t, address_length=Py_ssize_t, end=Py_ssize_t, size=Py_ssize_t,
               initial=uint64_t, buffer=bytes, out="unsigned char *")
cdef bytes _build_advert(int version, int vrid, int priority, int interval, object addresses,
                         int auth_type, object auth_data, object src, object dst, bint pseudo_header)

@cython.locals(raw="const unsigned char *", original=bytes, old_word=uint64_t, new_word=uint64_t,
               old_checksum=uint64_t, checksum="unsigned int", buffer=bytes, out="unsigned char *")
cpdef bytes advert_with_priority(object advert, int priority)

@cython.locals(src_bytes=bytes, dst_bytes=bytes, total_len=Py_ssize_t, ident16="unsigned int", buffer=bytes,
               out="unsigned char *")
cpdef bytes build_ipv4_header(object src, object dst, int payload_len, object ident, int ttl=*,
                              int tos=*)

@cython.locals(raw="const unsigned char *", original=bytes, size=Py_ssize_t, header_len=Py_ssize_t,
               ident16=uint64_t, total=uint64_t, checksum="unsigned int", buffer=bytes, out="unsigned char *")
cpdef bytes ipv4_with_id(object packet, object ident)

@cython.locals(src_bytes=bytes, dst_bytes=bytes, address_length=Py_ssize_t)
cdef object _decode_advert(bytes data, int family, bint has_ip_header, object src, object dst, int hop_limit,
                           bint accept_no_pseudo)

@cython.locals(raw="const unsigned char *", size=Py_ssize_t, header_len=Py_ssize_t, end=Py_ssize_t)
cdef object _decode_ip_packet(bytes data, bint ipv6, bint accept_no_pseudo)

@cython.locals(raw="const unsigned char *", size=Py_ssize_t, address_length=Py_ssize_t, version=int,
               count=Py_ssize_t, first=Py_ssize_t, i=Py_ssize_t, auth_type=int, interval=int)
cdef object _decode_vrrp(bytes data, Py_ssize_t start, Py_ssize_t end, bytes src, uint64_t addresses_sum, int ttl,
                         bint accept_no_pseudo)

@cython.locals(fields=tuple, adv_version=int, adv_auth_type=int, ttl=int)
cdef object _check_advert(object adv, int version, int auth_type, bytes auth_pass, bint multicast,
                          bint accept_no_pseudo)

@cython.locals(wire="const unsigned char *", wanted="const unsigned char *", i=Py_ssize_t)
cdef bint _password_matches(bytes auth_data, bytes password) except -1
