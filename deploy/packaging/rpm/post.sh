# %post of oom-exporter: $1 is 1 on a first install, 2 or more on an upgrade.
# The user first (systemd-sysusers is idempotent).
systemd-sysusers /usr/lib/sysusers.d/oom-exporter.conf || :
if [ -x /usr/bin/systemctl ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    # Fedora's way (%systemd_post): the presets decide. Fedora enables no
    # service that its presets do not list, so the service stays disabled
    # and stopped until `systemctl enable --now oom_exporter`.
    if [ "$1" -eq 1 ]; then
        systemctl --no-reload preset oom_exporter.service >/dev/null 2>&1 || :
    fi
fi
