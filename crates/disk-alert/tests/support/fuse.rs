//! A FUSE filesystem that stops answering once mounted: a stand-in for a
//! hung NFS server or a stuck FUSE daemon. It speaks the kernel's FUSE
//! protocol directly over `/dev/fuse` (no libfuse, no Python binding):
//! it answers INIT, so the mount is up, and then reads no more requests,
//! so every `stat` and `statfs` of the mount blocks in the kernel until
//! the guard is dropped.
//!
//! Requests the daemon has not read yet are ones a fatal signal can
//! abandon, as with an NFS hard mount; a FUSE request already read and
//! never answered could not be abandoned even by SIGKILL (see
//! docs/disk-alert.md), so this models the hang a process can survive.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;

use super::{Namespace, stderr};

const FUSE_INIT: u32 = 26;

/// A mounted hanging filesystem; dropping it closes the daemon's end.
pub struct HangingFuse {
    pub mountpoint: PathBuf,
    _release: mpsc::Sender<()>,
}

/// Mounts the hanging filesystem (type `fuse.hang`) at a new directory
/// `name` inside the namespace; the namespace's end unmounts it.
pub fn mount_hanging(ns: &Namespace, name: &str) -> HangingFuse {
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .expect("/dev/fuse is needed for the hung-mount test (modprobe fuse; in a container, pass --device /dev/fuse)");
    let server = dev.try_clone().unwrap();
    let (release, released) = mpsc::channel();
    std::thread::Builder::new()
        .name("hanging-fuse".into())
        .spawn(move || serve(server, released))
        .unwrap();
    let at = ns.dir().join(name);
    std::fs::create_dir_all(&at).unwrap();
    // The /dev/fuse descriptor goes to mount(8) as its stdin (fd 0), the
    // way fusermount hands one to the kernel.
    let out = ns
        .command("mount")
        .args([
            "-i",
            "-t",
            "fuse.hang",
            "-o",
            "fd=0,rootmode=40000,user_id=0,group_id=0",
            "hang",
        ])
        .arg(&at)
        .stdin(Stdio::from(dev))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mounting FUSE failed: {}",
        stderr(&out)
    );
    HangingFuse {
        mountpoint: at,
        _release: release,
    }
}

/// Answers INIT, then holds the device open without reading until
/// released.
fn serve(mut dev: File, released: mpsc::Receiver<()>) {
    let mut buf = vec![0u8; 1 << 21];
    loop {
        let n = match dev.read(&mut buf) {
            Ok(n) => n,
            // The descriptor is not bound to a mount until mount(2) runs.
            Err(err) if err.raw_os_error() == Some(nix::libc::EPERM) => {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            Err(_) => return,
        };
        assert!(n >= 40, "short FUSE request");
        let opcode = u32::from_ne_bytes(buf[4..8].try_into().unwrap());
        let unique = u64::from_ne_bytes(buf[8..16].try_into().unwrap());
        assert_eq!(opcode, FUSE_INIT, "the kernel starts with INIT");
        reply(&mut dev, unique, &init_out());
        break;
    }
    // Hung: nothing more is read.
    let _ = released.recv();
}

/// One reply: `fuse_out_header` and the body, in one write as the kernel
/// requires.
fn reply(dev: &mut File, unique: u64, body: &[u8]) {
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&0i32.to_ne_bytes()); // error: none
    msg.extend_from_slice(&unique.to_ne_bytes());
    msg.extend_from_slice(body);
    dev.write_all(&msg)
        .expect("the kernel takes the INIT reply");
}

/// `fuse_init_out`: protocol 7.31, no optional features.
fn init_out() -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for v in [7u32, 31, 0, 0] {
        // major, minor, max_readahead, flags
        out.extend_from_slice(&v.to_ne_bytes());
    }
    out.extend_from_slice(&12u16.to_ne_bytes()); // max_background
    out.extend_from_slice(&9u16.to_ne_bytes()); // congestion_threshold
    out.extend_from_slice(&4096u32.to_ne_bytes()); // max_write
    out.extend_from_slice(&1u32.to_ne_bytes()); // time_gran
    out.resize(64, 0); // max_pages, map_alignment, flags2, unused
    out
}
