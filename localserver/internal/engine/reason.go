package engine

import (
	"strconv"
	"time"
)

// condition describes "aggregate op threshold over n samples", or its
// negation when negate is set.
func (b *Breaker) condition(v float64, n int, negate bool) string {
	op := opSymbol(b.cfg.Op, negate)
	return kindLabel(b.cfg.Kind, b.cfg.percentile) + " " + fmtNum(v) + " " + op + " " +
		fmtNum(b.cfg.Threshold) + " over " + itoa(n) + plural(n, " sample", " samples")
}

func kindLabel(kind string, p float64) string {
	if kind == KindPercentile {
		return "p" + strconv.FormatFloat(p, 'g', -1, 64)
	}
	return kind
}

func opSymbol(op string, negate bool) string {
	var sym, neg string
	switch op {
	case OpGt:
		sym, neg = ">", "<="
	case OpLt:
		sym, neg = "<", ">="
	case OpGte:
		sym, neg = ">=", "<"
	case OpLte:
		sym, neg = "<=", ">"
	default:
		return op
	}
	if negate {
		return neg
	}
	return sym
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func fmtMs(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
