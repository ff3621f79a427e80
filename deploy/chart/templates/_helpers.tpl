{{/* Names and labels. */}}
{{- define "distribution.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "distribution.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "distribution.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "distribution.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (web, worker, migrate): (dict "ctx" $ "component" "web"). */}}
{{- define "distribution.selectorLabels" -}}
app.kubernetes.io/name: {{ include "distribution.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "distribution.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "distribution.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "distribution.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "distribution.secretName" -}}
{{- default (include "distribution.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The Secret's keys: the required ones and the optional ones. */}}
{{- define "distribution.secretKeys" -}}
DATABASE_URL REDIS_URL DATABASE_DIRECT_URL WEBHOOK_URL OTEL_EXPORTER_OTLP_HEADERS
{{- end -}}

{{/*
Checks of the values, run by every Deployment: the grace period covers the process's stop budget,
the ConfigMap does not shadow what the chart or the Secret sets, the Secret has what it needs.
*/}}
{{- define "distribution.validate" -}}
{{- $min := add .Values.shutdownDelaySeconds 40 -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $min) -}}
{{- fail (printf "terminationGracePeriodSeconds=%v is too short: the process stops within SHUTDOWN_DELAY (%vs) + 30 s, so it must be at least %v" .Values.terminationGracePeriodSeconds .Values.shutdownDelaySeconds $min) -}}
{{- end -}}
{{- if lt (int .Values.shutdownDelaySeconds) 0 -}}
{{- fail "shutdownDelaySeconds must not be negative" -}}
{{- end -}}
{{- range $k, $v := .Values.config -}}
{{- if has $k (list "ROLE" "ADDR" "OPS_ADDR" "MIGRATE_ON_START" "SHUTDOWN_DELAY") -}}
{{- fail (printf "config.%s is set by the chart (see values.yaml)" $k) -}}
{{- end -}}
{{- if has $k (splitList " " (include "distribution.secretKeys" $)) -}}
{{- fail (printf "config.%s is a credential: set it under secrets (or in existingSecret)" $k) -}}
{{- end -}}
{{- end -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if not .Values.secrets.DATABASE_URL -}}{{- fail "secrets.DATABASE_URL (or secrets.existingSecret) is required" -}}{{- end -}}
{{- if not .Values.secrets.REDIS_URL -}}{{- fail "secrets.REDIS_URL (or secrets.existingSecret) is required" -}}{{- end -}}
{{- if and .Values.database.throughPooler (not .Values.secrets.DATABASE_DIRECT_URL) -}}
{{- fail "database.throughPooler needs secrets.DATABASE_DIRECT_URL (PostgreSQL without the pooler)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Secret's variables, each from its key; optional ones may be missing from the Secret. (dict "ctx" $ "secret" NAME) */}}
{{- define "distribution.secretEnv" -}}
{{- $ctx := .ctx -}}
{{- range $k := splitList " " (include "distribution.secretKeys" $ctx) }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secret }}
      key: {{ $k }}
      {{- $required := or (eq $k "DATABASE_URL") (eq $k "REDIS_URL") (and (eq $k "DATABASE_DIRECT_URL") $ctx.Values.database.throughPooler) }}
      optional: {{ not $required }}
{{- end }}
{{- end -}}

{{/* A pod of the service: (dict "ctx" $ "component" "web"|"worker" "values" .Values.web|.Values.worker). */}}
{{- define "distribution.pod" -}}
{{- $ctx := .ctx -}}
{{- $v := .values -}}
metadata:
  labels:
    {{- include "distribution.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/config: {{ include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum }}
    {{- if not $ctx.Values.secrets.existingSecret }}
    checksum/secret: {{ include (print $ctx.Template.BasePath "/secret.yaml") $ctx | sha256sum }}
    {{- end }}
    {{- if $ctx.Values.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $ctx.Values.ports.ops | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "distribution.serviceAccountName" $ctx }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ $ctx.Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $ctx.Values.podSecurityContext | nindent 4 }}
  {{- with $ctx.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "distribution.image" $ctx }}
      imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
      args: ["serve"]
      env:
        - name: ROLE
          value: {{ .component }}
        - name: ADDR
          value: ":{{ $ctx.Values.ports.http }}"
        - name: OPS_ADDR
          value: ":{{ $ctx.Values.ports.ops }}"
        - name: MIGRATE_ON_START
          value: "false"
        - name: SHUTDOWN_DELAY
          value: "{{ $ctx.Values.shutdownDelaySeconds }}s"
        {{- include "distribution.secretEnv" (dict "ctx" $ctx "secret" (include "distribution.secretName" $ctx)) | trim | nindent 8 }}
      envFrom:
        - configMapRef:
            name: {{ include "distribution.fullname" $ctx }}
      ports:
        {{- if eq .component "web" }}
        - name: http
          containerPort: {{ $ctx.Values.ports.http }}
          protocol: TCP
        {{- end }}
        - name: ops
          containerPort: {{ $ctx.Values.ports.ops }}
          protocol: TCP
      startupProbe:
        httpGet: {path: /healthz, port: ops}
        {{- toYaml $ctx.Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet: {path: /healthz, port: ops}
        {{- toYaml $ctx.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet: {path: /readyz, port: ops}
        {{- toYaml $ctx.Values.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- toYaml $ctx.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with $ctx.Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $ctx.Values.tmpSizeLimit }}
    {{- with $ctx.Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
