package otelbridge

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOption is matched (errors.Is) by the error of a call given
	// an argument or option it cannot take, such as a nil client; the
	// error names it.
	ErrInvalidOption = errors.New("otelbridge: invalid option")

	// ErrInvalidRule is matched (errors.Is) by every *RuleError and by the
	// error of NewSpanProcessor given no rules.
	ErrInvalidRule = errors.New("otelbridge: invalid rule")
)

// RuleError reports a rule that NewSpanProcessor refuses: Index is its
// position in the rules given, Field the Rule field at fault and Reason
// what is wrong with it. exporter.RuleError has the same shape.
type RuleError struct {
	Index  int
	Field  string
	Reason string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("otelbridge: rules[%d].%s: %s", e.Index, e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidRule.
func (e *RuleError) Is(target error) bool { return target == ErrInvalidRule }
