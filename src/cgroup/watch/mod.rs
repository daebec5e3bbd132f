//! Reads a cgroup's event counters the moment the kernel changes them, so
//! an OOM kill is seen even when the cgroup is removed (and maybe created
//! again under the same path, as systemd does on a restart) before the
//! next scrape.
//!
//! - v2: the kernel signals a change of `memory.events` (oom, oom_kill,
//!   max, high) as an inotify modify event, at most one per 10 ms per
//!   file (later changes are signalled when the 10 ms are up); a change of
//!   the directory's extended attributes (systemd-oomd or oomd counting a
//!   kill, [`crate::cgroup::userspace`]) as an attribute event. One watch
//!   on the cgroup's directory sees both; the directory's other files
//!   (`cgroup.events`, `memory.events.local`) are ignored. The directory
//!   is held open while watched (one descriptor per v2 cgroup), so its
//!   attributes are read even when the cgroup was removed right after
//!   the killer counted its kill.
//! - v1: an eventfd registered in `cgroup.event_control` for
//!   `memory.oom_control` is signalled when the cgroup, or one above it,
//!   runs out of memory, and again when the cgroup is removed.
//!
//! One thread waits on both with epoll and reads the signalled cgroups with
//! the reader given to [`Watcher::start`], again and again until the reads
//! show the outcome (the kill counted; the signal comes before it), for at
//! most [`SETTLE`] (that loop is in `settle.rs`; the watches and the
//! epoll thread here). The collector takes the reads with [`Watcher::take`].
//! Watches follow the reported cgroups ([`Watcher::follow`]), so there are
//! at most `--collector.cgroup.max`. A read is tied to the inode it was
//! made on: a cgroup created again under the same path is a different one.

use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, epoll, eventfd};
use rustix::fs::inotify;

use crate::cgroup::hierarchy::{CgroupDir, Hierarchy, Incarnation, Observed};

mod settle;

pub use settle::SETTLE;

/// A signalled cgroup, with its directory when the watch holds it open.
type Signalled<T> = (Observed<T>, Option<CgroupDir>);

/// Reads what the collector wants of a cgroup after a signal.
pub type Reader<T> = fn(&Hierarchy, &CgroupDir) -> Option<T>;

/// Whether a read (`now`) shows the outcome of an event signalled after
/// `before` (the last value known) was read.
pub type Settled<T> = fn(&T, &T) -> bool;

/// epoll tokens: the inotify descriptor, the stop eventfd, then one per
/// v1 cgroup.
const INOTIFY: u64 = 0;
const STOP: u64 = 1;
const FIRST_TOKEN: u64 = 2;

/// How a cgroup is watched.
enum Handle {
    /// v2: inotify watch descriptor on the cgroup's directory, and the
    /// directory held open: its attributes can still be read after the
    /// cgroup is removed (a kill's count set just before).
    Inotify(i32, CgroupDir),
    /// v1: epoll token and the eventfd registered for `memory.oom_control`.
    Eventfd(u64, OwnedFd),
}

impl Handle {
    fn key(&self) -> Key {
        match self {
            Self::Inotify(wd, _) => Key::Wd(*wd),
            Self::Eventfd(token, _) => Key::Token(*token),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Wd(i32),
    Token(u64),
}

struct Watch<T> {
    ino: u64,
    handle: Handle,
    /// The last value known: the scrape's, then the watch's own reads.
    last: T,
}

struct State<T> {
    watches: HashMap<String, Watch<T>>,
    /// Path by inotify watch descriptor or eventfd token.
    by_key: HashMap<Key, String>,
    /// Reads since the last [`Watcher::take`], by cgroup incarnation.
    updates: HashMap<Incarnation, T>,
    /// Cgroups that could not be watched (path to inode): not tried again
    /// while that incarnation is reported.
    failed: HashMap<String, u64>,
}

struct Shared<T> {
    h: Hierarchy,
    epoll: OwnedFd,
    inotify: OwnedFd,
    stop: OwnedFd,
    next_token: AtomicU64,
    read: Reader<T>,
    settled: Settled<T>,
    state: Mutex<State<T>>,
}

/// A cgroup that could not be watched, and why.
#[derive(Debug)]
pub struct Unwatched {
    pub path: String,
    pub error: io::Error,
}

/// Watches cgroups of one hierarchy for event counter changes. Dropping
/// it stops the thread and ends every watch.
pub struct Watcher<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone + PartialEq + Send + 'static> Watcher<T> {
    /// Starts the watching thread for hierarchy `h`.
    pub fn start(h: Hierarchy, read: Reader<T>, settled: Settled<T>) -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let inotify =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        let stop = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        for (fd, token) in [(&inotify, INOTIFY), (&stop, STOP)] {
            epoll::add(
                &epoll,
                fd,
                epoll::EventData::new_u64(token),
                epoll::EventFlags::IN,
            )?;
        }
        let shared = Arc::new(Shared {
            h,
            epoll,
            inotify,
            stop,
            next_token: AtomicU64::new(FIRST_TOKEN),
            read,
            settled,
            state: Mutex::new(State {
                watches: HashMap::new(),
                by_key: HashMap::new(),
                updates: HashMap::new(),
                failed: HashMap::new(),
            }),
        });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("cgroup-watch".into())
            .spawn(move || worker.run())?;
        Ok(Self { shared })
    }

    /// Watches exactly the cgroups in `cgroups` (with the value read at
    /// the scrape): new ones and new incarnations of known paths are added,
    /// the others removed. Returns the cgroups that could not be watched,
    /// with the reason (each once: they are not tried again).
    pub fn follow(&self, cgroups: &[Observed<T>]) -> Vec<Unwatched> {
        let s = &self.shared;
        let keep: HashMap<&str, u64> = cgroups
            .iter()
            .map(|o| (o.cgroup.path.as_str(), o.cgroup.ino))
            .collect();
        // Decide under the lock, register outside it: the thread must not
        // wait on a scrape's system calls.
        let (released, new) = {
            let mut state = s.lock();
            let stale: Vec<String> = state
                .watches
                .iter()
                .filter(|(p, w)| keep.get(p.as_str()) != Some(&w.ino))
                .map(|(p, _)| p.clone())
                .collect();
            state
                .failed
                .retain(|p, ino| keep.get(p.as_str()) == Some(ino));
            let mut released = Vec::new();
            for p in &stale {
                if let Some(w) = state.watches.remove(p) {
                    state.by_key.remove(&w.handle.key());
                    released.push(w.handle);
                }
            }
            let new: Vec<&Observed<T>> = cgroups
                .iter()
                .filter(|o| {
                    let p = o.cgroup.path.as_str();
                    !state.watches.contains_key(p) && !state.failed.contains_key(p)
                })
                .collect();
            (released, new)
        };
        for handle in released {
            s.release(handle);
        }
        let mut failed = Vec::new();
        for Observed { cgroup, value } in new {
            let (path, ino) = (cgroup.path.as_str(), cgroup.ino);
            match s.watch(path) {
                Ok(handle) => {
                    let mut state = s.lock();
                    state.by_key.insert(handle.key(), path.to_owned());
                    let watch = Watch {
                        ino,
                        handle,
                        last: value.clone(),
                    };
                    state.watches.insert(path.to_owned(), watch);
                }
                Err(error) => {
                    s.lock().failed.insert(path.to_owned(), ino);
                    failed.push(Unwatched {
                        path: path.to_owned(),
                        error,
                    });
                }
            }
        }
        failed
    }

    /// The reads made since the last call, by cgroup incarnation.
    pub fn take(&self) -> HashMap<Incarnation, T> {
        std::mem::take(&mut self.shared.lock().updates)
    }

    /// How many cgroups are watched.
    pub fn watched(&self) -> usize {
        self.shared.lock().watches.len()
    }
}

impl<T> Drop for Watcher<T> {
    fn drop(&mut self) {
        let _ = rustix::io::write(&self.shared.stop, &1u64.to_ne_bytes());
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watch(&self, path: &str) -> io::Result<Handle> {
        match self.h {
            Hierarchy::V2(_) => {
                let dir = CgroupDir::open(&self.h.dir(path))?;
                let wd = inotify::add_watch(
                    &self.inotify,
                    self.h.dir(path),
                    inotify::WatchFlags::MODIFY
                        | inotify::WatchFlags::ATTRIB
                        | inotify::WatchFlags::ONLYDIR,
                )?;
                Ok(Handle::Inotify(wd, dir))
            }
            Hierarchy::V1(_) => {
                let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
                self.h.register_oom_eventfd(path, efd.as_fd())?;
                let token = self.next_token.fetch_add(1, Ordering::Relaxed);
                epoll::add(
                    &self.epoll,
                    &efd,
                    epoll::EventData::new_u64(token),
                    epoll::EventFlags::IN,
                )?;
                Ok(Handle::Eventfd(token, efd))
            }
        }
    }

    fn release(&self, handle: Handle) {
        match handle {
            // Fails if the kernel dropped it already; nothing to do then.
            Handle::Inotify(wd, _) => drop(inotify::remove_watch(&self.inotify, wd)),
            // Closing the eventfd ends the kernel's registration.
            Handle::Eventfd(_, efd) => drop(epoll::delete(&self.epoll, &efd)),
        }
    }
}

/// Whether an event on a watched cgroup directory says what the reader
/// reads: `memory.events` changed, or the directory's own attributes.
fn relevant(e: &inotify::Event<'_>) -> bool {
    match e.file_name().map(|n| n.to_bytes()) {
        None | Some(b"") => e.events().contains(inotify::ReadFlags::ATTRIB),
        Some(name) => name == b"memory.events" && e.events().contains(inotify::ReadFlags::MODIFY),
    }
}

impl<T: Clone + PartialEq> Shared<T> {
    fn run(&self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        loop {
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cgroup event watch stopped; counters are read at scrapes only");
                    return;
                }
            }
            let mut signalled: Vec<Signalled<T>> = Vec::new();
            for ev in &events {
                match ev.data.u64() {
                    STOP => return,
                    INOTIFY => self.drain_inotify(&mut buf, &mut signalled),
                    token => self.drain_eventfd(token, &mut signalled),
                }
            }
            signalled.sort_by(|a, b| a.0.cgroup.path.cmp(&b.0.cgroup.path));
            signalled.dedup_by(|a, b| a.0.cgroup.path == b.0.cgroup.path);
            self.read_until_settled(signalled);
        }
    }

    /// The watched cgroup `path` with its inode and last value, and its
    /// directory when held open.
    fn signalled(state: &State<T>, path: &str) -> Option<Signalled<T>> {
        let w = state.watches.get(path)?;
        let dir = match &w.handle {
            Handle::Inotify(_, dir) => dir.try_clone().ok(),
            Handle::Eventfd(..) => None,
        };
        let observed = Observed {
            cgroup: Incarnation {
                path: path.to_owned(),
                ino: w.ino,
            },
            value: w.last.clone(),
        };
        Some((observed, dir))
    }

    fn drain_inotify(&self, buf: &mut [MaybeUninit<u8>], out: &mut Vec<Signalled<T>>) {
        let mut reader = inotify::Reader::new(&self.inotify, buf);
        // Ends with AGAIN once drained.
        while let Ok((wd, flags, relevant)) =
            reader.next().map(|e| (e.wd(), e.events(), relevant(&e)))
        {
            let mut state = self.lock();
            if flags.contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                // Events were lost: read every watched cgroup.
                let all: Vec<String> = state.watches.keys().cloned().collect();
                out.extend(all.iter().filter_map(|p| Self::signalled(&state, p)));
            } else if flags.contains(inotify::ReadFlags::IGNORED) {
                // The watch is gone (removed by follow, or its file by the
                // kernel, which on cgroupfs keeps it while the mark pins
                // the inode). Forget the key; follow forgets the rest.
                state.by_key.remove(&Key::Wd(wd));
            } else if let Some(path) = state.by_key.get(&Key::Wd(wd)).cloned()
                && relevant
            {
                out.extend(Self::signalled(&state, &path));
            }
        }
    }

    fn drain_eventfd(&self, token: u64, out: &mut Vec<Signalled<T>>) {
        let state = self.lock();
        let Some(path) = state.by_key.get(&Key::Token(token)) else {
            return;
        };
        let Some(w) = state.watches.get(path) else {
            return;
        };
        if let Handle::Eventfd(_, efd) = &w.handle {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(efd, &mut count);
        }
        // Also signalled when the cgroup is removed: reading then finds it
        // gone or another cgroup in its place (skipped by inode).
        out.extend(Self::signalled(&state, path));
    }
}
