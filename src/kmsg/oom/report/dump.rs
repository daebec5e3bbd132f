//! The task dump: its header in any of its forms and its rows, of which
//! only the largest by RSS are kept.

use super::*;

/// Where the columns a row is read for are, counted from the first column
/// after `[ pid ]` (`uid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// Number columns between `]` and the name.
    count: usize,
    uid: Option<usize>,
    rss: usize,
    swapents: Option<usize>,
    oom_score_adj: Option<usize>,
    rss_anon: Option<usize>,
    rss_file: Option<usize>,
    rss_shmem: Option<usize>,
}

/// The dump's header, whichever kernel printed it: `[ pid ]` then column
/// names ending with `name`.
pub(super) fn dump_header(text: &str) -> Option<Columns> {
    let rest = text.strip_prefix('[')?.trim_start().strip_prefix("pid")?;
    let rest = rest.trim_start().strip_prefix(']')?;
    let names: Vec<&str> = rest.split_whitespace().collect();
    let (last, numbers) = names.split_last()?;
    if *last != "name" || numbers.len() > 16 {
        return None;
    }
    let at = |name: &str| numbers.iter().position(|n| *n == name);
    Some(Columns {
        count: numbers.len(),
        uid: at("uid"),
        rss: at("rss")?,
        swapents: at("swapents"),
        oom_score_adj: at("oom_score_adj"),
        rss_anon: at("rss_anon"),
        rss_file: at("rss_file"),
        rss_shmem: at("rss_shmem"),
    })
}

/// What a `[` line in a task dump is.
#[derive(Debug, PartialEq, Eq)]
pub enum Row {
    /// A whole row.
    Whole(Task),
    /// A row cut short or garbled (a syslog daemon dropped part of it):
    /// it counts as a row, but its numbers cannot be trusted.
    Cut,
    /// Not a row: no `[ pid ] uid`.
    Not,
}

/// One dump row read against `columns`: `[ pid ]`, the number columns,
/// then the comm (which may hold spaces), unescaped.
pub fn dump_row(text: &str, columns: &Columns) -> Row {
    let Some((pid, rest)) = text.strip_prefix('[').and_then(|t| t.split_once(']')) else {
        return Row::Not;
    };
    let Ok(pid) = pid.trim().parse::<u32>() else {
        return Row::Not;
    };
    let starts_like_a_row = rest.starts_with(' ')
        && rest
            .split_whitespace()
            .next()
            .is_some_and(|uid| uid.parse::<i64>().is_ok());
    if !starts_like_a_row {
        return Row::Not;
    }
    whole_row(pid, rest, columns).map_or(Row::Cut, Row::Whole)
}

/// The row after `[ pid ]`, if whole.
pub(super) fn whole_row(pid: u32, mut rest: &str, columns: &Columns) -> Option<Task> {
    let mut numbers = [0i64; 16];
    for n in numbers.iter_mut().take(columns.count) {
        let r = rest.trim_start_matches(' ');
        let end = r.find(' ').unwrap_or(r.len());
        *n = r[..end].parse().ok()?;
        rest = &r[end..];
    }
    // The kernel prints one space before the name.
    let comm = rest.strip_prefix(' ')?.trim_start_matches(' ');
    if comm.is_empty() {
        return None;
    }
    let pages = |i: Option<usize>| i.and_then(|i| u64::try_from(numbers[i]).ok());
    Some(Task {
        pid,
        uid: columns.uid.and_then(|i| u32::try_from(numbers[i]).ok()),
        comm: unescape(comm),
        rss_pages: pages(Some(columns.rss))?,
        rss_bytes: None,
        swap_pages: pages(columns.swapents),
        oom_score_adj: columns
            .oom_score_adj
            .and_then(|i| i32::try_from(numbers[i]).ok()),
        rss_anon_pages: pages(columns.rss_anon),
        rss_file_pages: pages(columns.rss_file),
        rss_shmem_pages: pages(columns.rss_shmem),
    })
}

/// A task dump being read: its columns, how many rows, the largest rows by
/// RSS, and the pid and RSS of the first [`MAX_INDEXED_ROWS`] rows.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    columns: Option<Columns>,
    rows: u64,
    /// Rows that could not be read.
    cut: u64,
    pub(super) top: Vec<Task>,
    pub(super) index: Vec<(u32, u64)>,
}

impl Dump {
    /// A dump under `columns`, with no rows yet.
    pub fn new(columns: Columns) -> Self {
        Self {
            columns: Some(columns),
            ..Self::default()
        }
    }

    /// The columns rows are read against, once a header was seen.
    pub fn columns(&self) -> Option<&Columns> {
        self.columns.as_ref()
    }

    /// Counts a row that could not be read.
    pub fn push_cut(&mut self) {
        self.rows += 1;
        self.cut += 1;
    }

    /// Adds a row, keeping the `keep` largest by RSS (ties to the lower pid).
    pub fn push(&mut self, task: Task, keep: usize) {
        self.rows += 1;
        if self.index.len() < MAX_INDEXED_ROWS {
            self.index.push((task.pid, task.rss_pages));
        }
        let key = |t: &Task| (std::cmp::Reverse(t.rss_pages), t.pid);
        let at = self.top.partition_point(|t| key(t) <= key(&task));
        if at < keep {
            self.top.insert(at, task);
            self.top.truncate(keep);
        }
    }

    /// The RSS (pages) of `pid`'s row, if remembered.
    fn rss_of(&self, pid: u32) -> Option<u64> {
        self.top
            .iter()
            .find(|t| t.pid == pid)
            .map(|t| t.rss_pages)
            .or_else(|| self.index.iter().find(|(p, _)| *p == pid).map(|(_, r)| *r))
    }

    /// Fills `report`'s dump fields for a victim `pid` whose `Killed
    /// process` line gives `victim_kb` resident; nothing without a header
    /// or without rows.
    pub fn fill(&self, report: &mut Report, pid: u32, victim_kb: Option<u64>) {
        // A header without rows: the rows were left out of the log (a
        // grep, a cut excerpt); a real dump lists at least the victim.
        if self.columns.is_none() || self.rows == 0 {
            return;
        }
        let told = self
            .rss_of(pid)
            .zip(victim_kb)
            .and_then(|(pages, kb)| page_size(pages, kb));
        let page = told.unwrap_or(ASSUMED_PAGE_SIZE);
        let mut top = self.top.clone();
        for t in &mut top {
            t.rss_bytes = t.rss_pages.checked_mul(page);
        }
        report.tasks_in_dump = Some(self.rows);
        report.tasks_unreadable = Some(self.cut);
        report.top_tasks = Some(top);
        report.page_size_bytes = Some(page);
        report.page_size_assumed = Some(told.is_none());
    }
}

/// The page size that makes `pages` pages about `kb` kB (within 1/8: the
/// row and the kill line are read moments apart).
pub(super) fn page_size(pages: u64, kb: u64) -> Option<u64> {
    if pages == 0 {
        return None;
    }
    let bytes = u128::from(kb) * 1024;
    PAGE_SIZES.into_iter().find(|&size| {
        let want = u128::from(pages) * u128::from(size);
        bytes.abs_diff(want) * 8 <= want
    })
}
