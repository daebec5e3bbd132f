use super::*;

#[test]
fn raw_kmsg() {
    let l = &lines("3,576,730674844,-;Memory cgroup out of memory: Killed")[0];
    assert_eq!(
        (l.seq, l.usec, l.facility),
        (Some(576), Some(730_674_844), Some(0))
    );
    assert_eq!(l.text, "Memory cgroup out of memory: Killed");
}

#[test]
fn dmesg_and_syslog() {
    let l = &lines("[ 7063.247407] Memory cgroup out of memory")[0];
    assert_eq!(l.usec, Some(7_063_247_407));
    assert_eq!(l.text, "Memory cgroup out of memory");
    let l = &lines("Jun 24 18:49:43 aks-node kernel: [ 8341.856856] oom-kill:x")[0];
    assert_eq!(l.usec, Some(8_341_856_856));
    assert_eq!(l.stamp, Stamp::Raw("Jun 24 18:49:43".to_owned()));
    assert_eq!(l.text, "oom-kill:x");
    let l = &lines("Nov 24 01:48:27 server kernel: systemd invoked oom-killer: x")[0];
    assert_eq!(l.usec, None);
    assert_eq!(l.text, "systemd invoked oom-killer: x");
    let l = &lines("kernel: Out of memory and no killable processes...")[0];
    assert_eq!(l.text, "Out of memory and no killable processes...");
}

#[test]
fn iso_stamps() {
    let l = &lines("2025-06-24T18:49:43.123456+00:00 host kernel: text")[0];
    assert_eq!(
        l.stamp,
        Stamp::Rfc3339("2025-06-24T18:49:43.123456+00:00".to_owned())
    );
    let l = &lines("2025-06-24T18:49:43+0200 host kernel: text")[0];
    assert_eq!(
        l.stamp,
        Stamp::Rfc3339("2025-06-24T18:49:43+02:00".to_owned())
    );
}

#[test]
fn dmesg_t_any_locale() {
    let l = &lines("[二 9月  3 05:57:48 2024] oom-kill:constraint=CONSTRAINT_MEMCG")[0];
    assert_eq!(l.stamp, Stamp::Raw("二 9月  3 05:57:48 2024".to_owned()));
    assert_eq!(l.text, "oom-kill:constraint=CONSTRAINT_MEMCG");
}

#[test]
fn joined_records_are_split() {
    let v = lines(
        "[30104.280046] oom-kill:task=node,pid=4294,uid=1001[30104.280053] Out of memory: Kill process 4294 (node)",
    );
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].text, "oom-kill:task=node,pid=4294,uid=1001");
    assert_eq!(v[1].text, "Out of memory: Kill process 4294 (node)");
    assert_eq!(v[1].usec, Some(30_104_280_053));
}

#[test]
fn regression_multibyte_char_in_syslog_stamp() {
    // Found by kmsg_fuzz: slicing the stamp at byte 15 split a character.
    let l = &lines("Jan  5 15:19:\u{1f574}27 kernel: text")[0];
    assert_eq!(l.text, "text");
}

#[test]
fn printk_caller_field_is_dropped() {
    let l = &lines("[  100.000000][ T1234] bash invoked oom-killer: gfp_mask=0xcc0")[0];
    assert_eq!(l.text, "bash invoked oom-killer: gfp_mask=0xcc0");
    assert_eq!(lines("[  100.000000][    C1] x")[0].text, "x");
    assert_eq!(lines("[  100.000000] [T] x")[0].text, "[T] x");
}

#[test]
fn userspace_syslog_lines_are_not_kernel() {
    let l =
        &lines("Jun 24 18:49:43 host root: Out of memory: Killed process 1 (init) total-vm:1kB")[0];
    assert_eq!(l.facility, Some(USER_FACILITY));
    let l =
        &lines("Jun 24 18:49:43 host kernel: Out of memory: Killed process 1 (init) total-vm:1kB")
            [0];
    assert_eq!(l.facility, None);
    assert_eq!(lines("[ 1.0] Out of memory")[0].facility, None);
}

#[test]
fn regression_megabyte_of_brackets_is_linear() {
    // Each `[` used to search for `]` to the end of the line: quadratic,
    // over a minute for 1 MiB. The time for 8 times the input is compared
    // with the time for the input (the best of three runs each, so that a
    // busy machine slows both): about 8 times when linear, 64 when
    // quadratic. A ratio, not a deadline, so a loaded machine does not fail.
    let inputs = |n: usize| {
        [
            "[".repeat(n),
            "[1.".repeat(n / 4),
            "[ 1".repeat(n / 4),
            format!("kernel: {}", "[".repeat(n)),
        ]
    };
    let best = |n: usize| {
        let inputs = inputs(n);
        (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                for line in &inputs {
                    let v = lines(line);
                    assert_eq!(v.len(), 1);
                    assert_eq!(v[0].text.len(), line.len() - line.find('[').unwrap_or(0));
                }
                start.elapsed()
            })
            .min()
            .unwrap()
    };
    let (small, large) = (best(1 << 15), best(1 << 18));
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 24.0,
        "{small:?} then {large:?} for 8 times the input"
    );
    // Stamps after the first are still split off.
    let joined = format!("{}[ 1.000000] x", "[".repeat(100));
    assert_eq!(lines(&joined)[1].text, "x");
}

#[test]
fn physical_lines_say_whether_they_look_like_the_kernel_log() {
    let form = |l: &str| physical_line(l, &mut Vec::new());
    assert!(form("6,1,100,-;x"));
    assert!(form("[  1.000000] x"));
    assert!(form("[Tue Sep  3 05:57:48 2024] x"));
    assert!(form("Jun 24 18:49:43 host kernel: x"));
    assert!(form("2025-06-24T18:49:43+0200 host kernel: x"));
    assert!(!form("Jun 24 18:49:43 host sshd[1]: [ 1.000000] x"));
    assert!(!form("plain text"));
    assert!(!form("[not a stamp] x"));
    assert!(!form(""));
}

#[test]
fn indentation_is_dropped() {
    assert_eq!(
        lines("  Out of memory: Killed process 4100 (x)")[0].text,
        "Out of memory: Killed process 4100 (x)"
    );
}

fn texts(log: &str) -> Vec<&str> {
    lines(log).iter().map(|l| l.text).collect()
}

#[test]
fn mail_quotes_are_dropped_in_every_form() {
    let quoted = "\
> 3,576,730674844,-;Memory cgroup out of memory: Killed process 1 (a)
>> [ 7063.247407] Out of memory: Killed process 2 (b)
> > Jun 24 18:49:43 host kernel: Out of memory: Killed process 3 (c)
>Out of memory: Killed process 4 (d)
>
";
    let got = lines(quoted);
    assert_eq!(
        got.iter().map(|l| l.text).collect::<Vec<_>>(),
        [
            "Memory cgroup out of memory: Killed process 1 (a)",
            "Out of memory: Killed process 2 (b)",
            "Out of memory: Killed process 3 (c)",
            "Out of memory: Killed process 4 (d)",
            "",
        ]
    );
    assert_eq!((got[0].seq, got[1].usec), (Some(576), Some(7_063_247_407)));
    assert_eq!(got[2].stamp, Stamp::Raw("Jun 24 18:49:43".into()));
    // A `>` inside a line is text.
    assert_eq!(texts("[1.000000] a > b"), ["a > b"]);
}

#[test]
fn syslog_escaped_newlines_split_into_lines() {
    let log =
        "Sep 29 08:12:34 h kernel: active_anon:1 inactive_anon:2#012 active_file:3#012 free:4";
    let got = lines(log);
    assert_eq!(
        got.iter().map(|l| l.text).collect::<Vec<_>>(),
        ["active_anon:1 inactive_anon:2", " active_file:3", " free:4"]
    );
    assert!(
        got.iter()
            .all(|l| l.stamp == got[0].stamp && l.facility.is_none())
    );
    // A kill line is never split: `#012` there is part of a comm.
    assert_eq!(
        texts("Sep 29 08:12:34 h kernel: Out of memory: Killed process 5 (a#012b) total-vm:1kB"),
        ["Out of memory: Killed process 5 (a#012b) total-vm:1kB"]
    );
}

#[test]
fn syslog_and_journal_lines_name_their_host() {
    fn host(l: &str) -> Option<&str> {
        lines(l).first().and_then(|l| l.host)
    }
    assert_eq!(
        host("Sep 29 08:12:34 hnsin-varnish kernel: Out of memory"),
        Some("hnsin-varnish")
    );
    assert_eq!(
        host("2025-06-24T18:49:43.123+00:00 db-2.example kernel: x"),
        Some("db-2.example")
    );
    assert_eq!(host("[ 12.5] Out of memory"), None);
    assert_eq!(host("6,575,730674821,-;Out of memory"), None);
    assert_eq!(host("Sep 29 08:12:34 h systemd[1]: kernel: x"), None);
}

#[test]
fn indented_raw_records_are_records() {
    let v =
        lines("    6,575,730674821,-;Out of memory: Killed process 1 (x)\n\t4,576,730674900,-;y");
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].seq, v[0].usec), (Some(575), Some(730_674_821)));
    assert_eq!(v[0].text, "Out of memory: Killed process 1 (x)");
    assert_eq!((v[1].seq, v[1].text), (Some(576), "y"));
}
