//! Bringing up the loopback interface of a fresh network namespace (which starts down).
//!
//! rustix makes the socket and the `ioctl` calls; the `ifreq` layout and the
//! `SIOCGIFFLAGS`/`SIOCSIFFLAGS` request numbers come from libc, because rustix exports
//! neither (its netdevice module only maps names to indexes).

use std::ffi::c_short;

use rustix::io::Errno;
use rustix::ioctl::{Opcode, Setter, Updater, ioctl};
use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with};

const GET_FLAGS: Opcode = libc::SIOCGIFFLAGS as Opcode;
const SET_FLAGS: Opcode = libc::SIOCSIFFLAGS as Opcode;

/// Sets IFF_UP on `lo`. Allocates nothing: it runs after `fork`.
pub(crate) fn up() -> Result<(), Errno> {
    let sock = socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // SAFETY: an ifreq is plain integers and arrays, for which all zeroes is a value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: both requests take a pointer to an ifreq naming the interface; the kernel
    // fills in (GET) or reads (SET) its flags field.
    unsafe {
        ioctl(&sock, Updater::<GET_FLAGS, libc::ifreq>::new(&mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as c_short;
        ioctl(&sock, Setter::<SET_FLAGS, libc::ifreq>::new(req))
    }
}
