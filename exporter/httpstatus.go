package exporter

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/tripswitch-otel/tripswitch-go/internal/rules"
)

// errorTypeKey is the attribute of the OpenTelemetry HTTP semantic
// conventions naming the error of a request that got no response.
const errorTypeKey = attribute.Key("error.type")

// OKBelowHTTPStatus returns a Rule.OK evaluator for HTTP client and server
// metrics that fails a data point whose HTTP response status code
// (attribute http.response.status_code, or the older http.status_code; an
// integer, a number or decimal text) is code or above. A point without a
// status code fails when it has an error.type attribute (the request got
// no response: a transport error or a timeout). OKBelowHTTPStatus(500)
// fails server errors only; 4xx are ok. otelbridge.OKBelowHTTPStatus is
// the same for spans.
func OKBelowHTTPStatus(code int) func(attribute.Set) bool {
	limit := int64(code)
	return func(attrs attribute.Set) bool {
		if n, ok := rules.SetStatusCode(&attrs); ok {
			return n < limit
		}
		return !attrs.HasValue(errorTypeKey)
	}
}
