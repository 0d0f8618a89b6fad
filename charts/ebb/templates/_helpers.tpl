{{/* Labels every object carries. */}}
{{- define "ebb.labels" -}}
app.kubernetes.io/part-of: ebb
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ebb.image" -}}
{{ .Values.image.keda.registry }}/{{ .Values.image.keda.repository }}:{{ .Values.image.keda.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "ebb.serviceAccountName" -}}
{{ .Values.serviceAccount.operator.name }}
{{- end -}}
