{{/*
Base name, "locust" unless nameOverride says otherwise.
*/}}
{{- define "locust.name" -}}
{{- default "locust" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: "<release>-locust", as stable/locust did.
Unlike helm create's helper this never collapses to the bare release name, because
release "locust4thidwick" must still give "locust4thidwick-locust-master" (the runbook's name).
Truncated so that the longest suffix ("-master-svc", 11 characters) fits in 63.
*/}}
{{- define "locust.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "locust.name" .) | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "locust.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource that belongs to no single component.
*/}}
{{- define "locust.labels" -}}
{{ include "locust.commonLabels" . }}
app.kubernetes.io/name: {{ include "locust.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app: {{ include "locust.fullname" . }}
{{- end }}

{{/*
Labels that say which chart and tool made a resource.
*/}}
{{- define "locust.commonLabels" -}}
helm.sh/chart: {{ include "locust.chart" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels of one component. The runbook finds the master with
app=<release>-locust,component=master.
Usage: include "locust.selectorLabels" (list . "master")
*/}}
{{- define "locust.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "locust.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
app: {{ include "locust.fullname" $root }}
component: {{ index . 1 }}
{{- end }}

{{/*
All labels of one component's resources and pods.
Usage: include "locust.componentLabels" (list . "master")
*/}}
{{- define "locust.componentLabels" -}}
{{ include "locust.commonLabels" (index . 0) }}
{{ include "locust.selectorLabels" . }}
{{- end }}

{{/*
Image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "locust.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
Name of the master's service, which workers use to find the master.
*/}}
{{- define "locust.masterService" -}}
{{- printf "%s-master-svc" (include "locust.fullname" .) }}
{{- end }}

{{/*
Environment variables from a config map of values, stable/locust style:
each key upper-cased with dashes turned into underscores (target-host -> TARGET_HOST).
*/}}
{{- define "locust.configEnv" -}}
{{- range $key, $value := . }}
- name: {{ $key | upper | replace "-" "_" | replace "." "_" }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}

{{/*
Pod spec parts shared by master and worker: pull secrets, security, scheduling.
*/}}
{{- define "locust.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: locust-tasks
    configMap:
      name: {{ include "locust.fullname" . }}-locustfile
  - name: tmp
    emptyDir: {}
{{- end }}

{{/*
Mounts shared by master and worker containers.
*/}}
{{- define "locust.volumeMounts" -}}
- name: locust-tasks
  mountPath: {{ .Values.locustfile.mountPath }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}
