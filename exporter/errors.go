package exporter

import (
	"errors"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// ErrShutdown is returned by every method that does work after Shutdown.
// It matches sdkmetric.ErrExporterShutdown as well.
var ErrShutdown = fmt.Errorf("exporter: %w", sdkmetric.ErrExporterShutdown)

// ErrAttached is returned by Attach when the exporter has a client.
var ErrAttached = errors.New("exporter: already attached to a client")

// ErrInvalidOption is matched (errors.Is) by the error of New for an
// option with a value it cannot take, and of Attach for a nil client; the
// error names the option or argument.
var ErrInvalidOption = errors.New("exporter: invalid option")

// ErrInvalidRule is matched (errors.Is) by every *RuleError and by the
// error of New given no rules.
var ErrInvalidRule = errors.New("exporter: invalid rule")

// RuleError reports a rule that New refuses: Index is its position in the
// rules given to New, Field the Rule field at fault and Reason what is
// wrong with it. otelbridge.RuleError has the same shape.
type RuleError struct {
	Index  int
	Field  string
	Reason string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("exporter: rules[%d].%s: %s", e.Index, e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidRule.
func (e *RuleError) Is(target error) bool { return target == ErrInvalidRule }

func ruleError(i int, field, format string, args ...any) error {
	return &RuleError{Index: i, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}
