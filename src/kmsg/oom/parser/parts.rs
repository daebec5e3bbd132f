//! The report's other parts joined to the current event: the trigger, the
//! memory cgroup's counters and `memory.stat` block, swap, Mem-Info and the
//! task dump ([`crate::kmsg::oom::report`] recognises each line).

use super::*;

impl Parser {
    /// Adds one of the report's other parts to the current, open event.
    /// After the event's kill they are never given to a kill of another
    /// event: they wait for a line that starts one, a header, or one only
    /// an OOM report prints first in its part (the memcg's `memory: usage`,
    /// the task dump's header; the header may have been rate-limited away).
    /// The trigger's pid and the swap lines (also printed outside OOM
    /// reports) count only after a header.
    pub(super) fn join_part(&mut self, line: &Line<'_>, part: Part<'_>) -> Outcome {
        let event = &mut self.event;
        let starts = matches!(
            part,
            Part::Counter(Counter::Memory, _) | Part::TasksState | Part::DumpHeader(_)
        );
        if starts {
            event.reopen_if_closed();
        }
        if event.closed {
            return Outcome::Nothing;
        }
        let headed = event.invoked_by.is_some();
        let r = &mut event.report;
        match part {
            Part::TriggerPid(pid, kernel)
                if headed && r.trigger_pid.is_none() && event.dump.columns().is_none() =>
            {
                r.trigger_pid = Some(pid);
                r.kernel = kernel.map(str::to_owned);
            }
            Part::Counter(counter, u) => {
                let (usage, limit, failcnt) = match counter {
                    Counter::Memory => (
                        &mut r.memcg_usage_kb,
                        &mut r.memcg_limit_kb,
                        &mut r.memcg_failcnt,
                    ),
                    Counter::MemorySwap => (
                        &mut r.memsw_usage_kb,
                        &mut r.memsw_limit_kb,
                        &mut r.memsw_failcnt,
                    ),
                    Counter::Kmem => (
                        &mut r.kmem_usage_kb,
                        &mut r.kmem_limit_kb,
                        &mut r.kmem_failcnt,
                    ),
                    Counter::Swap => (
                        &mut r.swap_usage_kb,
                        &mut r.swap_limit_kb,
                        &mut r.swap_failcnt,
                    ),
                };
                (*usage, *limit, *failcnt) = (u.usage_kb, u.limit_kb, u.failcnt);
            }
            Part::FreeSwap(kb) if headed => r.swap_free_kb = Some(kb),
            Part::TotalSwap(kb) if headed => r.swap_total_kb = Some(kb),
            Part::RamPages(pages) if headed => r.ram_pages = Some(pages),
            Part::TasksState => {}
            Part::DumpHeader(columns) => event.dump = Dump::new(columns),
            Part::MaybeRow(text) => {
                let Some(columns) = event.dump.columns().copied() else {
                    return Outcome::Nothing;
                };
                match report::dump_row(text, &columns) {
                    Row::Whole(task) => event.dump.push(task, self.top_tasks),
                    Row::Cut => event.dump.push_cut(),
                    Row::Not => return Outcome::Nothing,
                }
            }
            _ => return Outcome::Nothing,
        }
        self.touch(line);
        Outcome::Nothing
    }

    /// Adds `line` to the open `Memory cgroup stats for` block, if it is
    /// one of its `key value` lines of the same event.
    pub(super) fn stats_line(&mut self, line: &Line<'_>) -> bool {
        let stale = stale(line.usec, self.event.last_usec, EVENT_WINDOW_USEC);
        let Some(pairs) = report::stat_lines(line.text).filter(|_| !stale) else {
            return false;
        };
        let stats = self.event.report.memcg_stats.get_or_insert_default();
        for (key, bytes) in pairs {
            stats.note(key, bytes);
        }
        self.touch(line);
        true
    }

    /// Adds `line` to the `Mem-Info:` summary of the current, headed event
    /// if it is one of its lines: the first starts with `active_anon:`, the
    /// others follow it.
    pub(super) fn meminfo_line(&mut self, line: &Line<'_>) -> bool {
        let event = &mut self.event;
        let starts = line.text.trim_start().starts_with("active_anon:");
        if !(event.meminfo_open || starts) {
            return false;
        }
        let headed = event.invoked_by.is_some() && !event.closed;
        let stale = stale(line.usec, event.last_usec, EVENT_WINDOW_USEC);
        let pairs = report::meminfo_pairs(line.text).filter(|_| headed && !stale);
        event.meminfo_open = pairs.is_some();
        let Some(pairs) = pairs else {
            return false;
        };
        if starts {
            event.report.meminfo_pages = Some(report::MemInfo::default());
        }
        let meminfo = event.report.meminfo_pages.get_or_insert_default();
        for (key, pages) in pairs {
            meminfo.note(key, pages);
        }
        self.touch(line);
        true
    }

    /// Reads the one-line stats block of kernels before 4.19 (`Memory
    /// cgroup stats for /x: cache:0KB rss:...`), or opens the block that
    /// follows a `Memory cgroup stats for /x:` header.
    pub(super) fn stats_header(&mut self, text: &str) {
        let Some(at) = text.rfind(": cache:") else {
            self.event.stats_open = true;
            return;
        };
        let stats = self.event.report.memcg_stats.get_or_insert_default();
        for (key, bytes) in report::stat_line_kb(&text[at + 2..]) {
            stats.note(key, bytes);
        }
    }
}
