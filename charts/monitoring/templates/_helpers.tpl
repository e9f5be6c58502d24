{{/*
Chart name, or nameOverride.
*/}}
{{- define "monitoring.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name prefix: "<release>-<chart>", or the release name when it already contains the chart
name (release "monitoring" gives "monitoring"). Truncated so "-prometheus" still fits in 63.
*/}}
{{- define "monitoring.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "monitoring.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component (prometheus, grafana, dashboards).
Usage: include "monitoring.selectorLabels" (list . "prometheus")
*/}}
{{- define "monitoring.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "monitoring.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
app: {{ index . 1 }}
{{- end }}

{{/*
All labels of one component's resources.
Usage: include "monitoring.labels" (list . "prometheus")
*/}}
{{- define "monitoring.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "monitoring.chart" $root }}
{{ include "monitoring.selectorLabels" . }}
{{- if $root.Chart.AppVersion }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{- define "monitoring.prometheus.fullname" -}}
{{- printf "%s-prometheus" (include "monitoring.fullname" .) }}
{{- end }}

{{- define "monitoring.grafana.fullname" -}}
{{- printf "%s-grafana" (include "monitoring.fullname" .) }}
{{- end }}

{{- define "monitoring.prometheus.serviceAccountName" -}}
{{- if .Values.prometheus.serviceAccount.create }}
{{- default (include "monitoring.prometheus.fullname" .) .Values.prometheus.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.prometheus.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "monitoring.prometheus.image" -}}
{{- printf "%s:%s" .Values.prometheus.image.repository (.Values.prometheus.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
The in-cluster URL of Prometheus, used by Grafana's datasource.
*/}}
{{- define "monitoring.prometheus.url" -}}
{{- printf "http://%s.%s.svc:%v" (include "monitoring.prometheus.fullname" .) .Release.Namespace .Values.prometheus.service.port }}
{{- end }}

{{/*
Image of the pod-discovery sidecar: its own if set, else the Prometheus image.
*/}}
{{- define "monitoring.discovery.image" -}}
{{- $d := .Values.prometheus.discovery.image }}
{{- if $d.repository }}
{{- printf "%s:%s" $d.repository ($d.tag | default .Values.prometheus.image.tag | default .Chart.AppVersion | toString) }}
{{- else }}
{{- include "monitoring.prometheus.image" . }}
{{- end }}
{{- end }}
