package exporter

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// Attribute keys of the OpenTelemetry HTTP semantic conventions.
const (
	httpResponseStatusCodeKey = attribute.Key("http.response.status_code")
	errorTypeKey              = attribute.Key("error.type")
)

// HTTPStatusOK is a Route.OK evaluator for HTTP client and server metrics
// that follow the current semantic conventions (as otelhttp records them).
// A data point fails when its http.response.status_code is 500 or more, or
// when it has no status code but an error.type (the request got no
// response: a transport error or a timeout). Everything else, 4xx
// included, is ok.
func HTTPStatusOK(attrs attribute.Set) bool {
	if v, ok := attrs.Value(httpResponseStatusCodeKey); ok {
		switch v.Type() {
		case attribute.INT64:
			return v.AsInt64() < 500
		case attribute.FLOAT64:
			return v.AsFloat64() < 500
		case attribute.STRING:
			n, err := strconv.Atoi(v.AsString())
			return err != nil || n < 500
		}
		return true
	}
	return !attrs.HasValue(errorTypeKey)
}
