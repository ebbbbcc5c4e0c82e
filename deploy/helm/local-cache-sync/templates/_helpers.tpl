{{- define "lcs.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lcs.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lcs.labels" -}}
app.kubernetes.io/name: {{ include "lcs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "lcs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lcs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding REDIS_URL or REDIS_PASSWORD, MONGODB_URI and SYNC_SIGNING_KEYS. */}}
{{- define "lcs.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.create -}}
{{- include "lcs.fullname" . -}}
{{- else -}}
{{- fail "give secrets.existingSecret (a Secret with MONGODB_URI, SYNC_SIGNING_KEYS and REDIS_URL or REDIS_PASSWORD) or set secrets.create=true" -}}
{{- end -}}
{{- end -}}

{{- define "lcs.checkTopology" -}}
{{- $r := .Values.redis -}}
{{- if and (eq $r.topology "sentinel") (empty $r.sentinels) -}}
{{- fail "redis.topology=sentinel needs redis.sentinels (host:port of each Sentinel)" -}}
{{- end -}}
{{- if and (eq $r.topology "cluster") (empty $r.clusterNodes) -}}
{{- fail "redis.topology=cluster needs redis.clusterNodes (host:port of some cluster nodes)" -}}
{{- end -}}
{{- end -}}

{{/* The pod's grace period: the preStop pause, the drain (SHUTDOWN_TIMEOUT_MS), and 5 s to spare. */}}
{{- define "lcs.gracePeriod" -}}
{{- add .Values.preStopSeconds (div (add .Values.shutdownTimeoutMs 999) 1000) 5 -}}
{{- end -}}
