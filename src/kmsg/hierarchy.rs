//! Checks the candidate cgroups of an ambiguous report against the live
//! memory cgroup hierarchy (the reader's only use of it).
//!
//! A candidate whose cgroups do not exist cannot be the victim's. When
//! several exist, the victim's cgroup is one whose own OOM-kill counter
//! (`oom_kill` in v1 `memory.oom_control`, in v2 `memory.events.local`) is
//! above zero. Exactly one candidate left is the answer; otherwise the kill
//! stays unattributed. Every candidate differs from the truth only inside a
//! directory the cgroup's creator can write to (see
//! [`super::attribution`]), so this only ever chooses among their cgroups.

use crate::cgroup::hierarchy::Hierarchy;
use crate::cgroup::parse::keyed;

use super::attribution::Reading;

/// The one candidate the hierarchy supports, if any.
pub fn pick<'a>(h: &Hierarchy, candidates: &'a [Reading]) -> Option<&'a Reading> {
    let existing: Vec<&Reading> = candidates.iter().filter(|r| exists(h, r)).collect();
    if let [one] = existing[..] {
        return Some(one);
    }
    let killed: Vec<&Reading> = existing
        .into_iter()
        .filter(|r| own_oom_kills(h, &r.task_memcg).is_some_and(|n| n > 0))
        .collect();
    match killed[..] {
        [one] => Some(one),
        _ => None,
    }
}

fn exists(h: &Hierarchy, r: &Reading) -> bool {
    // Never look outside the hierarchy, whatever a log file says.
    let inside = |path: &str| {
        std::path::Path::new(path)
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir))
    };
    let dir = |path: &str| inside(path) && h.dir(path).is_dir();
    dir(&r.task_memcg) && r.oom_memcg.as_deref().is_none_or(dir)
}

/// OOM kills in the cgroup itself, not below it.
fn own_oom_kills(h: &Hierarchy, path: &str) -> Option<u64> {
    let file = match h {
        Hierarchy::V1(_) => "memory.oom_control",
        Hierarchy::V2(_) => "memory.events.local",
    };
    let text = crate::proc::fs::read_text(&h.dir(path).join(file), crate::proc::fs::MAX_FILE_BYTES)
        .ok()?;
    keyed(&text).ok()?.get("oom_kill")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(oom: &str, task: &str) -> Reading {
        Reading {
            oom_memcg: Some(oom.to_owned()),
            task_memcg: task.to_owned(),
        }
    }

    #[test]
    fn picks_the_only_candidate_that_exists_then_the_only_one_that_had_a_kill() {
        let root = tempfile::tempdir().unwrap();
        let h = Hierarchy::V1(root.path().to_owned());
        let one = reading("/a", "/a/b,task_memcg=/a,task_memcg=/a/b");
        let two = reading("/a,task_memcg=/a/b", "/a,task_memcg=/a/b");
        let both = [one.clone(), two.clone()];
        assert_eq!(pick(&h, &both), None, "neither exists");

        let mkdir = |p: &str| std::fs::create_dir_all(h.dir(p)).unwrap();
        mkdir(&two.task_memcg);
        assert_eq!(pick(&h, &both), Some(&two));

        mkdir(&one.task_memcg);
        assert_eq!(pick(&h, &both), None, "both exist, neither had a kill");
        let control = |p: &str, n: u32| {
            std::fs::write(
                h.dir(p).join("memory.oom_control"),
                format!("oom_kill_disable 0\nunder_oom 0\noom_kill {n}\n"),
            )
            .unwrap();
        };
        control(&one.task_memcg, 1);
        control(&two.task_memcg, 0);
        assert_eq!(pick(&h, &both), Some(&one));
        control(&two.task_memcg, 3);
        assert_eq!(pick(&h, &both), None, "both had kills");
        // A path that climbs out of the hierarchy is never looked up.
        let outside = reading("/", "/../../../..");
        assert_eq!(pick(&h, &[outside]), None);
    }

    #[test]
    fn v2_reads_the_local_events() {
        let root = tempfile::tempdir().unwrap();
        let h = Hierarchy::V2(root.path().to_owned());
        let one = reading("/a", "/a/x");
        let two = reading("/a", "/a/y");
        for (r, n) in [(&one, 0), (&two, 2)] {
            std::fs::create_dir_all(h.dir(&r.task_memcg)).unwrap();
            std::fs::write(
                h.dir(&r.task_memcg).join("memory.events.local"),
                format!("low 0\nhigh 0\nmax 4\noom 1\noom_kill {n}\n"),
            )
            .unwrap();
        }
        assert_eq!(pick(&h, &[one, two.clone()]), Some(&two));
    }
}
