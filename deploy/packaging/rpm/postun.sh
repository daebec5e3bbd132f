# %postun of oom-exporter: $1 is 0 after an erase, 1 after an upgrade.
# Reload units; after an upgrade restart the service if it runs
# (%systemd_postun_with_restart). The user stays, as Fedora's do.
if [ -x /usr/bin/systemctl ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart oom_exporter.service >/dev/null 2>&1 || :
    fi
fi
