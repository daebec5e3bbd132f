// Recording rules: prometheusRules.groups, rendered into
// alerts/oom_exporter.rules.yml after the alerts.
local f = import '../lib/format.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local s(more='') = f.sel(c.oomExporterSelector, more),
    local ksm(more='') = f.sel(c.kubeStateMetricsSelector, more),

    // The series of `metric` again, with namespace, pod and container from
    // kube-state-metrics where the exporter's are empty: by container_id,
    // else by pod_uid, else unchanged.
    local named(metric) = {
      record: 'pod_uid:%s:named' % metric,
      expr: |||
        %(m)s%(named)s
        or (
          %(m)s%(byContainer)s
          * on (container_id) group_left (namespace, pod, container) container_id:kube_pod_container_info:names
        )
        or (
          (%(m)s%(byPod)s unless on (container_id) container_id:kube_pod_container_info:names)
          * on (pod_uid) group_left (namespace, pod) pod_uid:kube_pod_info:names
        )
        or (
          %(m)s%(unnamed)s
          unless on (container_id) container_id:kube_pod_container_info:names
          unless on (pod_uid) pod_uid:kube_pod_info:names
        )
      ||| % {
        m: metric,
        named: s('pod!=""'),
        byContainer: s('pod="",container_id!=""'),
        byPod: s('pod="",pod_uid!=""'),
        unnamed: s('pod=""'),
      },
    },

    groups+: [
      // Kubernetes names from kube-state-metrics, for clusters where the
      // exporter cannot read the kubelet's log directories (--path.varlog):
      // each victim, cgroup-kill and cgroup-usage series again, with
      // namespace, pod and container from kube_pod_container_info{container_id}
      // or kube_pod_info{uid} where the exporter's own labels are empty. The
      // join fails once kube-state-metrics no longer reports the pod
      // (deleted), and for static pods (their mirror pod has another UID):
      // those series are recorded without names. docs/kubernetes.md.
      {
        name: 'oom-k8s-names',
        rules: [
          {
            record: 'pod_uid:kube_pod_info:names',
            expr: |||
              max by (pod_uid, namespace, pod) (
                label_replace(kube_pod_info%s, "pod_uid", "$1", "uid", "(.+)")
              )
            ||| % ksm('uid!=""'),
          },
          {
            // kube-state-metrics prefixes the ID with the runtime (containerd://).
            record: 'container_id:kube_pod_container_info:names',
            expr: |||
              max by (container_id, namespace, pod, container) (
                label_replace(kube_pod_container_info%s, "container_id", "$1", "container_id", "[a-z0-9.-]+://(.+)")
              )
            ||| % ksm('container_id!=""'),
          },
          named('oom_victim_kills_total'),
          named('oom_cgroup_oom_kills_total'),
          named('oom_cgroup_memory_usage_bytes'),
        ],
      },
    ],
  },
}
