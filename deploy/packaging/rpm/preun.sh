# %preun of oom-exporter: $1 is 0 when the package is erased, 1 on an upgrade.
# On erase, stop and disable the service (%systemd_preun).
if [ "$1" -eq 0 ] && [ -x /usr/bin/systemctl ]; then
    systemctl --no-reload disable --now oom_exporter.service >/dev/null 2>&1 || :
fi
