{{/*
Chart name, or nameOverride. Also the value of the pod label `app`.
*/}}
{{- define "thidwick-starter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: "<release>-<chart>", or just the release name when it already
contains the chart name. Release "thidwick" gives "thidwick-thidwick-starter".
Truncated at 63 characters, the DNS label limit.
*/}}
{{- define "thidwick-starter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "thidwick-starter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource.
*/}}
{{- define "thidwick-starter.labels" -}}
helm.sh/chart: {{ include "thidwick-starter.chart" . }}
{{ include "thidwick-starter.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (immutable once a Deployment exists).
*/}}
{{- define "thidwick-starter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "thidwick-starter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The runbook's own pod labels: app=thidwick-starter,project=thidwick.
*/}}
{{- define "thidwick-starter.runbookLabels" -}}
app: {{ include "thidwick-starter.name" . }}
project: {{ .Values.project | quote }}
{{- end }}

{{/*
Image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "thidwick-starter.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
Container port, taken from `listen` so the two can never disagree.
*/}}
{{- define "thidwick-starter.containerPort" -}}
{{- regexReplaceAll "^.*:" (toString .Values.listen) "" }}
{{- end }}

{{/*
THIDWICK_* variables for the capacity knobs, one per knob that is set: null and "" leave
the binary's own default.
*/}}
{{- define "thidwick-starter.capacityEnv" -}}
{{- $knobs := list
      (list "THIDWICK_CONCURRENCY" .Values.capacity.concurrency)
      (list "THIDWICK_WORK_TIME" .Values.capacity.workTime)
      (list "THIDWICK_MAX_QUEUE" .Values.capacity.maxQueue)
      (list "THIDWICK_THREADS" .Values.capacity.threads)
      (list "THIDWICK_FAIL_RATIO" .Values.failRatio)
      (list "THIDWICK_FAIL_STATUS" .Values.failStatus) }}
{{- range $knobs }}
{{- $value := index . 1 }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ index . 0 }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}
