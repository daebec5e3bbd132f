//! Reads a cgroup's event counters the moment the kernel changes them, so
//! an OOM kill is seen even when the cgroup is removed (and maybe created
//! again under the same path, as systemd does on a restart) before the
//! next scrape.
//!
//! - v2: the kernel signals a change of `memory.events` (oom, oom_kill,
//!   max, high) as an inotify modify event.
//! - v1: an eventfd registered in `cgroup.event_control` for
//!   `memory.oom_control` is signalled when the cgroup runs out of memory.
//!
//! One thread waits on both with epoll and calls the reader given to
//! [`Watcher::start`] for the cgroup concerned; the collector takes the
//! results with [`Watcher::take`]. Watches follow the reported cgroups
//! ([`Watcher::follow`]), so there are at most `--collector.cgroup.max`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, epoll, eventfd};
use rustix::fs::inotify;

use crate::cgroupfs::{CgroupDir, Hierarchy};

/// Reads what the collector wants of a cgroup after an event.
pub type Reader<T> = fn(&Hierarchy, &CgroupDir) -> Option<T>;

/// Whether a read (second argument) shows the outcome of the event that
/// the first read after the signal (first argument) did not yet.
pub type Settled<T> = fn(&T, &T) -> bool;

/// How long a read is repeated until it shows the outcome ...
const SETTLE: Duration = Duration::from_millis(100);
/// ... without pause for the first part.
const SPIN: Duration = Duration::from_millis(10);

/// epoll token of the inotify descriptor; eventfds get 1, 2, ...
const INOTIFY: u64 = 0;

/// How a cgroup is watched.
enum Handle {
    /// v2: inotify watch descriptor on `memory.events`.
    Inotify(i32),
    /// v1: epoll token and the eventfd registered for `memory.oom_control`.
    Eventfd(u64, OwnedFd),
}

struct Watch {
    path: String,
    ino: u64,
    handle: Handle,
}

struct State<T> {
    watches: HashMap<String, Watch>,
    /// Path by inotify watch descriptor or eventfd token.
    by_key: HashMap<Key, String>,
    next_token: u64,
    /// Latest reads, by path, with the inode of the cgroup read.
    updates: HashMap<String, (u64, T)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Wd(i32),
    Token(u64),
}

struct Shared<T> {
    h: Hierarchy,
    epoll: OwnedFd,
    inotify: OwnedFd,
    read: Reader<T>,
    settled: Settled<T>,
    state: Mutex<State<T>>,
}

/// Watches cgroups of one hierarchy for event counter changes.
pub struct Watcher<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone + PartialEq + Send + 'static> Watcher<T> {
    /// Starts the watching thread for hierarchy `h`.
    pub fn start(h: Hierarchy, read: Reader<T>, settled: Settled<T>) -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let inotify =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &inotify,
            epoll::EventData::new_u64(INOTIFY),
            epoll::EventFlags::IN,
        )?;
        let shared = Arc::new(Shared {
            h,
            epoll,
            inotify,
            read,
            settled,
            state: Mutex::new(State {
                watches: HashMap::new(),
                by_key: HashMap::new(),
                next_token: INOTIFY + 1,
                updates: HashMap::new(),
            }),
        });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("cgroup-watch".into())
            .spawn(move || worker.run())?;
        Ok(Self { shared })
    }

    /// Watches exactly the cgroups in `paths` (path, inode): new ones and
    /// new incarnations of known paths are added, the others removed.
    /// Returns the cgroups that could not be watched, with the reason.
    pub fn follow(&self, paths: &[(&str, u64)]) -> Vec<(String, io::Error)> {
        let s = &self.shared;
        let mut state = s.lock();
        let keep: HashSet<&str> = paths.iter().map(|(p, _)| *p).collect();
        let gone: Vec<String> = state
            .watches
            .keys()
            .filter(|p| !keep.contains(p.as_str()))
            .cloned()
            .collect();
        for path in gone {
            s.unwatch(&mut state, &path);
        }
        let mut failed = Vec::new();
        for &(path, ino) in paths {
            if state.watches.get(path).is_some_and(|w| w.ino == ino) {
                continue;
            }
            s.unwatch(&mut state, path);
            match s.watch(&mut state, path) {
                Ok(handle) => {
                    let key = match &handle {
                        Handle::Inotify(wd) => Key::Wd(*wd),
                        Handle::Eventfd(token, _) => Key::Token(*token),
                    };
                    state.by_key.insert(key, path.to_owned());
                    state.watches.insert(
                        path.to_owned(),
                        Watch {
                            path: path.to_owned(),
                            ino,
                            handle,
                        },
                    );
                }
                Err(e) => failed.push((path.to_owned(), e)),
            }
        }
        failed
    }

    /// The reads made since the last call: path to (inode, value).
    pub fn take(&self) -> HashMap<String, (u64, T)> {
        std::mem::take(&mut self.shared.lock().updates)
    }

    /// How many cgroups are watched.
    pub fn watched(&self) -> usize {
        self.shared.lock().watches.len()
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watch(&self, state: &mut State<T>, path: &str) -> io::Result<Handle> {
        let dir = self.h.dir(path);
        match self.h {
            Hierarchy::V2(_) => {
                let wd = inotify::add_watch(
                    &self.inotify,
                    dir.join("memory.events"),
                    inotify::WatchFlags::MODIFY,
                )?;
                Ok(Handle::Inotify(wd))
            }
            Hierarchy::V1(_) => {
                let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
                let control = std::fs::File::open(dir.join("memory.oom_control"))?;
                let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
                std::fs::write(dir.join("cgroup.event_control"), line)?;
                let token = state.next_token;
                state.next_token += 1;
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

    fn unwatch(&self, state: &mut State<T>, path: &str) {
        let Some(w) = state.watches.remove(path) else {
            return;
        };
        match w.handle {
            Handle::Inotify(wd) => {
                state.by_key.remove(&Key::Wd(wd));
                // Fails when the kernel already dropped it (cgroup removed).
                let _ = inotify::remove_watch(&self.inotify, wd);
            }
            Handle::Eventfd(token, efd) => {
                state.by_key.remove(&Key::Token(token));
                let _ = epoll::delete(&self.epoll, &efd);
                // Closing the eventfd ends the kernel's registration.
            }
        }
    }
}

impl<T: Clone + PartialEq + Send + 'static> Shared<T> {
    fn run(&self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        loop {
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cgroup event watch stopped");
                    return;
                }
            }
            let mut touched: Vec<String> = Vec::new();
            for ev in &events {
                let token = ev.data.u64();
                if token == INOTIFY {
                    self.drain_inotify(&mut buf, &mut touched);
                } else {
                    self.drain_eventfd(token, &mut touched);
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for path in touched {
                self.read_settled(&path);
            }
        }
    }

    fn drain_inotify(&self, buf: &mut [MaybeUninit<u8>], touched: &mut Vec<String>) {
        let mut reader = inotify::Reader::new(&self.inotify, buf);
        // Ends with AGAIN once drained.
        while let Ok((wd, flags)) = reader.next().map(|e| (e.wd(), e.events())) {
            let mut state = self.lock();
            if flags.contains(inotify::ReadFlags::IGNORED) {
                // The file is gone (cgroup removed): the kernel dropped the
                // watch. Forget it; the path may be watched anew.
                if let Some(path) = state.by_key.remove(&Key::Wd(wd))
                    && state
                        .watches
                        .get(&path)
                        .is_some_and(|w| matches!(w.handle, Handle::Inotify(x) if x == wd))
                {
                    state.watches.remove(&path);
                }
            } else if let Some(path) = state.by_key.get(&Key::Wd(wd)) {
                touched.push(path.clone());
            }
        }
    }

    fn drain_eventfd(&self, token: u64, touched: &mut Vec<String>) {
        let mut state = self.lock();
        let Some(path) = state.by_key.get(&Key::Token(token)).cloned() else {
            return;
        };
        let Some(w) = state.watches.get(&path) else {
            return;
        };
        let Handle::Eventfd(_, efd) = &w.handle else {
            return;
        };
        let mut count = [0u8; 8];
        let _ = rustix::io::read(efd.as_fd(), &mut count);
        if self.h.dir(&w.path).exists() {
            touched.push(path);
        } else {
            // Removed: the kernel signals the eventfd on removal too.
            self.unwatch(&mut state, &path);
        }
    }

    /// Reads the cgroup, and again and again for up to [`SETTLE`] until a
    /// read shows the outcome, publishing every change at once: v1 signals
    /// when the cgroup runs out of memory, milliseconds before the kill is
    /// counted (the kernel prints its report first), and under load the
    /// signal may also be seen after it. The victim exits, and the cgroup
    /// can be removed, only after the count.
    fn read_settled(&self, path: &str) {
        let Ok(dir) = CgroupDir::open(&self.h.dir(path)) else {
            return;
        };
        let Ok(ino) = dir.ino() else {
            return;
        };
        let start = std::time::Instant::now();
        let Some(first) = (self.read)(&self.h, &dir) else {
            return;
        };
        let publish = |v: &T| {
            self.lock()
                .updates
                .insert(path.to_owned(), (ino, v.clone()));
        };
        publish(&first);
        let mut last = first.clone();
        while !(self.settled)(&first, &last) && start.elapsed() < SETTLE {
            // Tight at first: the cgroup can go right after the victim.
            if start.elapsed() < SPIN {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            match (self.read)(&self.h, &dir) {
                Some(v) if v != last => {
                    publish(&v);
                    last = v;
                }
                Some(_) => {}
                None => break,
            }
        }
        tracing::trace!(cgroup = path, elapsed = ?start.elapsed(), "cgroup events read");
    }
}
