use super::*;

const KILL: &str = "[  100.000001] Out of memory: Killed process 7 (app) total-vm:10kB, anon-rss:5kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";

fn scan_str(log: &str) -> (Scan, Vec<Kill>) {
    let mut kills = Vec::new();
    let scan = scan(Cursor::new(log.as_bytes()), |k| {
        kills.push(k);
        Ok(())
    })
    .unwrap();
    (scan, kills)
}

#[test]
fn kernel_lines_are_told_from_other_text() {
    let (s, kills) = scan_str(KILL);
    assert_eq!((s.lines, s.kernel_lines, s.kills), (1, 1, 1));
    assert_eq!(kills[0].pid, 7);
    let (s, _) = scan_str("hello\n[not a stamp] x\nJun 24 18:49:43 host sshd[1]: x\n");
    assert_eq!((s.lines, s.kernel_lines, s.kills), (3, 0, 0));
    let (s, _) = scan_str("Jun 24 18:49:43 host kernel: eth0: link up\n");
    assert_eq!(s.kernel_lines, 1);
    let (s, _) = scan_str("6,1,100,-;eth0: link up\n[Tue Sep  3 05:57:48 2024] x\n");
    assert_eq!(s.kernel_lines, 2);
    // Bare message text is not a form, but a kill in it still is a log.
    let (s, _) = scan_str("Out of memory: Killed process 4100 (x) total-vm:1kB\n");
    assert_eq!((s.kernel_lines, s.kills), (0, 1));
}

#[test]
fn table_streams_past_the_width_rows() {
    let mut out = Vec::new();
    let mut table = Table::default();
    let (_, kills) = scan_str(&KILL.repeat(WIDTH_ROWS + 5));
    for (i, k) in kills.iter().enumerate() {
        let before = out.len();
        table.push(with_killer("kernel", row(k)), &mut out).unwrap();
        // Held until the columns are sized, then written as they come.
        assert_eq!(out.len() > before, i + 1 >= WIDTH_ROWS, "row {i}");
    }
    table.flush_pending(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), WIDTH_ROWS + 6);
    assert!(text.starts_with("TIME "));
    assert_eq!(text.lines().filter(|l| l.starts_with("TIME")).count(), 1);
}

#[test]
fn a_short_table_is_printed_at_the_end() {
    let mut out = Vec::new();
    let mut table = Table::default();
    let (_, kills) = scan_str(KILL);
    table
        .push(with_killer("kernel", row(&kills[0])), &mut out)
        .unwrap();
    assert!(out.is_empty());
    table.flush_pending(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.starts_with("TIME          PID"), "{text}");
    assert!(text.contains("  KILLER  CGROUP"), "{text}");
    let row = text.lines().nth(1).unwrap();
    assert!(row.starts_with("[100.000001]  7 "), "{row}");
    assert!(row.ends_with("  kernel  -"), "{row}");
}

#[test]
fn a_userspace_row_names_the_killer_and_the_processes() {
    let kill = |kills, processes| UserspaceKill {
        time: None,
        killer: crate::cgroup::userspace::Killer::Oomd,
        task_memcg: "/system.slice/x.service".to_owned(),
        kills,
        processes,
        owner: crate::cgroup::owner::owner("/system.slice/x.service"),
        names: Names::default(),
        before_start: false,
    };
    let row = user_row(&kill(1, 1), &Names::default());
    assert_eq!(row[2], "(1 process)");
    assert_eq!(row[6..], ["x.service", "oomd", "/system.slice/x.service"]);
    assert_eq!(
        user_row(&kill(2, 5), &Names::default())[2],
        "(2 kills, 5 processes)"
    );
    assert_eq!(row[0], "-");
}

#[test]
fn the_owner_column_names_the_pod_else_its_uid_else_the_unit() {
    let (_, kills) = scan_str(KILL);
    let mut k = kills[0].clone();
    assert_eq!(row(&k)[6], "-");
    k.unit = Some("cron.service".to_owned());
    assert_eq!(row(&k)[6], "cron.service");
    k.pod_uid = Some("10d16a28-60ff-475f-a631-510d9792219f".to_owned());
    assert_eq!(row(&k)[6], "10d16a28-60ff-475f-a631-510d9792219f");
    k.names.namespace = Some("kube-system".to_owned());
    k.names.pod = Some("coredns-5d78c9869d-8xk2p".to_owned());
    assert_eq!(row(&k)[6], "kube-system/coredns-5d78c9869d-8xk2p");
    assert_eq!(HEADER[6], "NAMESPACE/POD");
}

#[test]
fn a_userspace_kill_in_json_names_its_pod_and_container() {
    const UID: &str = "3f1e2d4c-5b6a-4789-9abc-def012345678";
    const ID: &str = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
    let logs = tempfile::tempdir().unwrap();
    let pod = format!("team-a_memhog-x2k4q_{UID}");
    std::fs::create_dir_all(logs.path().join("pods").join(&pod).join("hog")).unwrap();
    std::fs::create_dir(logs.path().join("containers")).unwrap();
    std::os::unix::fs::symlink(
        format!("/var/log/pods/{pod}/hog/0.log"),
        logs.path()
            .join(format!("containers/memhog-x2k4q_team-a_hog-{ID}.log")),
    )
    .unwrap();
    let cgroup = format!("/kubepods/burstable/pod{UID}/{ID}");
    let kill = UserspaceKill {
        time: None,
        killer: crate::cgroup::userspace::Killer::SystemdOomd,
        owner: crate::cgroup::owner::owner(&cgroup),
        task_memcg: cgroup,
        kills: 1,
        processes: 2,
        names: Names::default(),
        before_start: false,
    };
    let mut sink = Sink {
        kind: Kind::Json,
        names: Resolver::new(Some(logs.path().to_owned())),
    };
    let mut out = Vec::new();
    sink.push_userspace(&kill, &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["namespace"], "team-a", "{json}");
    assert_eq!(json["pod"], "memhog-x2k4q", "{json}");
    assert_eq!(json["container"], "hog", "{json}");
    assert_eq!(json["killer"], "systemd-oomd", "{json}");
    // Names the live exporter recorded are kept as they were.
    let seen = UserspaceKill {
        names: Names {
            namespace: Some("then".to_owned()),
            ..Names::default()
        },
        ..kill
    };
    let mut out = Vec::new();
    sink.push_userspace(&seen, &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["namespace"], "then", "{json}");
}
